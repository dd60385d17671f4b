package org.sparkmoe.jobs.train;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.model.checkpoint.VectorRanges;

/**
 * A trainer's state moved range by range, never as one array, so it may exceed 2^31 values: the parameters, and the
 * optimiser state in the layout of a worker's state file (AdamW's m, then v, then one value holding the step count,
 * as {@link LocalTrainer#readOptimizerState(float[])} lays it out). What {@code sync=barrier} checkpoints, restores
 * and moves between devices.
 */
final class TrainerState {

    /** Values per copy between two trainers. */
    private static final int CHUNK = 1 << 22;

    private TrainerState() {}

    static VectorRanges.Source parameters(LocalTrainer trainer) {
        return trainer::readParameters;
    }

    static VectorRanges.Sink parametersInto(LocalTrainer trainer) {
        return trainer::writeParameters;
    }

    /** Values in the optimiser state: 2·P moments and the step count. */
    static long optimizerStateSize(LocalTrainer trainer) {
        return 2 * trainer.parameterCount() + 1;
    }

    /** The optimiser state as its vector: moments, then the step count in the last value. */
    static VectorRanges.Source optimizerState(LocalTrainer trainer) {
        long moments = 2 * trainer.parameterCount();
        return (first, count, dst) -> {
            long inMoments = Math.max(0, Math.min(count, moments - first));
            if (inMoments > 0) {
                trainer.readMoments(first, inMoments, dst);
            }
            if (inMoments < count) {
                dst.setAtIndex(JAVA_FLOAT, inMoments, trainer.stepCount());
            }
        };
    }

    /** Writes the optimiser state's vector back: moments, and the step count from the last value. */
    static VectorRanges.Sink optimizerStateInto(LocalTrainer trainer) {
        long moments = 2 * trainer.parameterCount();
        return (first, count, src) -> {
            long inMoments = Math.max(0, Math.min(count, moments - first));
            if (inMoments > 0) {
                trainer.writeMoments(first, inMoments, src);
            }
            if (inMoments < count) {
                trainer.setStepCount((long) src.getAtIndex(JAVA_FLOAT, inMoments));
            }
        };
    }

    /** Writes the trainer's optimiser state as a worker state file. */
    static void writeOptimizerState(FileSystem fs, Path file, LocalTrainer trainer) throws IOException {
        VectorFiles.write(fs, file, optimizerStateSize(trainer), optimizerState(trainer));
    }

    /** Restores the trainer's optimiser state from a worker state file, checked against the trainer's size. */
    static void readOptimizerState(FileSystem fs, Path file, LocalTrainer trainer) throws IOException {
        VectorFiles.read(fs, file, optimizerStateSize(trainer), optimizerStateInto(trainer));
    }

    /** {@code to} takes {@code from}'s whole state (another device, the same configuration). */
    static void copy(LocalTrainer from, LocalTrainer to) {
        copy(parameters(from), parametersInto(to), from.parameterCount());
        copy(optimizerState(from), optimizerStateInto(to), optimizerStateSize(from));
    }

    /** Sets every parameter to zero (a rank whose parameters are not finite contributes zeros to the sum). */
    static void zeroParameters(LocalTrainer trainer) {
        copy((first, count, dst) -> dst.asSlice(0, count * Float.BYTES).fill((byte) 0), parametersInto(trainer),
                trainer.parameterCount());
    }

    private static void copy(VectorRanges.Source from, VectorRanges.Sink to, long count) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment chunk = arena.allocate(JAVA_FLOAT, Math.max(1, Math.min(CHUNK, count)));
            for (long first = 0; first < count; first += CHUNK) {
                long n = Math.min(CHUNK, count - first);
                from.read(first, n, chunk);
                to.write(first, n, chunk);
            }
        }
    }
}

package org.sparkmoe.jobs.train;

import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.sparkmoe.jobs.io.HadoopCheckpointFiles;
import org.sparkmoe.model.checkpoint.VectorRanges;

/**
 * The run's {@code final/}: the trained parameter vector ({@code parameters.f32}) and, beside it, the model in the
 * engine's own format ({@link LocalTrainerFactory#exportModel}), streamed into the run's filesystem. The driver writes
 * it with {@code sync=driver}; rank 0 of the last round otherwise (it holds the vector, the driver does not).
 */
final class FinalModel {

    private FinalModel() {}

    static void write(RunDirectory run, LocalTrainerFactory engine, float[] params_P) throws IOException {
        write(run, engine, params_P.length, VectorRanges.of(params_P));
    }

    /** The same from a vector read range by range (rank 0's trainer). */
    static void write(RunDirectory run, LocalTrainerFactory engine, long count, VectorRanges.Source params)
            throws IOException {
        FileSystem fs = run.fileSystem();
        VectorFiles.write(fs, run.finalParameters(), count, params);
        engine.exportModel(count, params, new HadoopCheckpointFiles(fs, run.finalParameters().getParent()));
    }
}

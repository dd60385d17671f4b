package org.sparkmoe.model.train;

import static org.sparkmoe.model.train.MemoryEstimate.gib;

import java.util.ArrayList;
import java.util.List;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.MemoryInfo;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;

/**
 * Refuses an engine its backend cannot hold, before allocation: compares the {@link MemoryEstimate} with the
 * backend's free memory and, when it does not fit, says what would: fewer layers ({@code num_hidden_layers}), a
 * smaller micro-batch or sequence length, an inference engine (scoring needs no training state), more devices.
 */
final class MemoryCheck {

    private MemoryCheck() {
    }

    /**
     * The estimate of this engine (a rank of {@code expertParallel}, or the whole model when null; recomputing the
     * attention's q, k, v in backward if {@code recomputeAttention}), after checking that it fits {@code backend}'s
     * free memory.
     */
    static MemoryEstimate refuseIfTooLarge(ModelConfig model, int microBatch, boolean training, Backend backend,
                                           Collective expertParallel, boolean recomputeAttention) {
        MemoryEstimate estimate = MemoryEstimate.of(model, microBatch, training, backend, expertParallel,
                recomputeAttention);
        MemoryInfo memory = backend.memory();
        if (estimate.totalBytes() <= memory.freeBytes()) {
            return estimate;
        }
        long free = memory.freeBytes();
        List<String> fits = new ArrayList<>();
        int layers = largestFitting(1, model.numLayers() - 1,
                l -> MemoryEstimate.of(model.withNumLayers(l), microBatch, training, backend, expertParallel,
                        recomputeAttention).totalBytes() <= free);
        if (layers > 0) {
            fits.add("num_hidden_layers=" + layers);
        }
        if (microBatch > 1 && MemoryEstimate.of(model, 1, training, backend, expertParallel, recomputeAttention)
                .totalBytes() <= free) {
            int batch = largestFitting(1, microBatch - 1, b -> MemoryEstimate.of(model, b, training, backend,
                    expertParallel, recomputeAttention).totalBytes() <= free);
            fits.add("micro-batch=" + batch);
        }
        int seq = largestFitting(1, model.maxSeqLen() - 1,
                t -> MemoryEstimate.of(model.withMaxSeqLen(t), 1, training, backend, expertParallel,
                        recomputeAttention).totalBytes() <= free);
        if (seq > 0) {
            fits.add("max_position_embeddings=" + seq + (microBatch > 1 ? " with micro-batch=1" : ""));
        }
        if (training) {
            MemoryEstimate inference = MemoryEstimate.of(model, microBatch, false, backend);
            if (inference.totalBytes() <= free) {
                fits.add("an inference engine for score/evaluate (no gradients or AdamW state): " + inference);
            }
        }
        long state = estimate.parameterBytes() + estimate.gradientBytes() + estimate.optimizerBytes();
        long devices = (state + memory.totalBytes() - 1) / Math.max(1, memory.totalBytes());
        fits.add("at least " + Math.max(2, devices) + " devices of this size for the parameters"
                + (training ? ", gradients and AdamW state" : "") + " alone (" + gib(state) + "), "
                + (expertParallel == null ? "e.g. as the ranks of expert parallelism (docs/expert-parallel.md)"
                : "so more expert-parallel ranks than " + expertParallel.size()));
        throw new ModelDoesNotFitException("model " + model.name() + " (" + model.numLayers() + " layers, "
                + (estimate.parameterBytes() / 4) + " parameters) " + (training ? "for training" : "for inference")
                + " with micro-batches of " + microBatch + " x " + model.maxSeqLen() + " tokens needs " + estimate
                + " but " + gib(free) + " is free (" + memory.source() + "; backend " + backend.describe()
                + "). Would fit: " + String.join("; ", fits), estimate, free);
    }

    /** The largest n in [low, high] with {@code fits(n)}, fits monotone (true up to some n); 0 when none fits. */
    private static int largestFitting(int low, int high, java.util.function.IntPredicate fits) {
        if (high < low || !fits.test(low)) {
            return 0;
        }
        while (low < high) {
            int mid = low + (high - low + 1) / 2;
            if (fits.test(mid)) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        return low;
    }
}

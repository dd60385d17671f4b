package org.sparkmoe.model.decoder;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.moe.ExpertPlacement;

/**
 * An expert-parallel model's dealings with the other ranks outside the MoE layers (docs/expert-parallel.md): the
 * ranks agree on the batch shape before a step (so they run the same number of micro-batches and exchanges), the
 * step's gradients become those of the data-parallel objective (the mean of the ranks' losses), the gradient norm
 * covers every expert, and a checkpoint reads the whole model's tensors across the ranks ({@link WholeModelReader}).
 *
 * <p>Gradients: the replicated parameters' are averaged over the ranks (synchronous data parallelism); an expert's
 * gradient already holds every rank's tokens (their dY rows came to its owner), each scaled by its own rank's loss
 * scale, so it is divided by D to be the same mean. Legend: P = the rank layout's elements, p its replicated prefix.
 */
final class ExpertParallelRanks {

    private final Backend backend;
    private final Collective collective;
    private final ExpertPlacement placement;
    private final ModelConfig config;
    private final ParameterLayout layout;
    private final Tensor shape_2;
    private final Tensor shapes_2W;
    private final Tensor expertSquares_1;

    ExpertParallelRanks(Backend backend, Collective collective, ExpertPlacement placement, ModelConfig config,
                        ParameterLayout layout) {
        this.backend = backend;
        this.collective = collective;
        this.placement = placement;
        this.config = config;
        this.layout = layout;
        this.shape_2 = backend.allocate("batch shape", DType.I32, 2);
        this.shapes_2W = backend.allocate("batch shapes", DType.I32, 2L * placement.ranks());
        this.expertSquares_1 = backend.allocate("expert grad squares", DType.F32, 1);
    }

    ExpertPlacement placement() {
        return placement;
    }

    /** Fails on every rank, naming the shapes, unless all ranks step {@code batch} rows of {@code seqLenPlusOne}. */
    void checkSameBatch(int batch, int seqLenPlusOne) {
        backend.uploadInts(new int[] {batch, seqLenPlusOne}, 0, shape_2, 0, 2);
        collective.allGather(shape_2, shapes_2W);
        int[] all = new int[2 * placement.ranks()];
        backend.downloadInts(shapes_2W, 0, all, 0, all.length);
        for (int r = 0; r < placement.ranks(); r++) {
            if (all[2 * r] != batch || all[2 * r + 1] != seqLenPlusOne) {
                throw new IllegalArgumentException("expert-parallel rank " + placement.rank() + " has a batch of "
                        + batch + " x " + seqLenPlusOne + " ids but rank " + r + " has " + all[2 * r] + " x "
                        + all[2 * r + 1] + ": every rank must step batches of the same shape (they exchange tokens"
                        + " in every MoE layer of every micro-batch)");
            }
        }
    }

    /** Replicated prefix → mean over the ranks; expert block → divided by D. */
    void reduceGradients(Tensor grads_P) {
        long p = layout.replicatedElements();
        collective.allReduceMean(backend.view(grads_P, "replicated grads", 0, p));
        if (placement.ranks() > 1) {
            backend.scale(backend.view(grads_P, "expert grads", p, grads_P.size() - p), 1f / placement.ranks());
        }
    }

    /**
     * {@code scalars[slot] = Σ g²} over the replicated gradients (equal on every rank after {@link #reduceGradients})
     * plus every rank's expert gradients, the same on every rank.
     */
    void sumSquares(Tensor grads_P, Tensor scalars, int slot) {
        long p = layout.replicatedElements();
        backend.sumSquares(backend.view(grads_P, "expert grads", p, grads_P.size() - p), expertSquares_1, 0);
        collective.allReduceSum(expertSquares_1);
        backend.sumSquares(backend.view(grads_P, "replicated grads", 0, p), scalars, slot);
        Tensor total = backend.view(scalars, "grad squares", slot, 1);
        backend.add(total, expertSquares_1, total);
    }

    /**
     * {@code local_P} (the parameters, AdamW m or v of this rank, in its layout) as the whole model's tensors: see
     * {@link WholeModelReader}; {@code staging_P} is a tensor of the same layout that may be overwritten.
     */
    WholeModelReader wholeReader(Tensor local_P, Tensor staging_P) {
        return WholeModelReader.of(backend, collective, config, placement, layout, local_P, staging_P);
    }
}

package org.sparkmoe.model.backend.cuda.bench;

/**
 * The shapes of one training step of the PyTorch anchor's configs (docs/benchmarks.md, CUDA): every
 * layer is MoE, as in the anchor. FLOPs per token use the anchor's formula, so model TFLOP/s compare one to one.
 */
record StepShape(String name, int vocab, int dim, int heads, int layers, int seqLen, int batch, int routed,
        int shared, int topK, int expertWidth) {

    static StepShape named(String name) {
        return switch (name) {
            case "val2b" -> new StepShape("val2b", 8192, 1280, 10, 9, 2048, 8, 63, 1, 7, 864);
            case "small" -> new StepShape("small", 8192, 512, 8, 6, 1024, 16, 31, 1, 3, 352);
            default -> throw new IllegalArgumentException("unknown bench config " + name + "; use val2b or small");
        };
    }

    int rows() {
        return batch * seqLen;
    }

    int headDim() {
        return dim / heads;
    }

    /** The anchor's model FLOPs per trained token (6 x forward multiply-adds, causal attention halved). */
    double flopsPerToken() {
        double attention = 4.0 * dim * dim + 2.0 * seqLen * dim;
        double ffn = 3.0 * dim * expertWidth * (topK + shared) + (double) dim * routed;
        return 6 * (layers * (attention + ffn) + (double) dim * vocab);
    }

    long parameters() {
        long perLayer = 4L * dim * dim + 2L * dim + (long) (routed + shared) * 3 * dim * expertWidth + (long) routed * dim;
        return layers * perLayer + 2L * vocab * dim + dim;
    }
}

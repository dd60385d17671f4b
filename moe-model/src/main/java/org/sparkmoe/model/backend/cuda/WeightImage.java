package org.sparkmoe.model.backend.cuda;

/**
 * The bf16 image of one parameter arena ({@link CudaBackend#allocateParameters} at {@link GemmPrecision#BF16}): what
 * cuBLAS reads when a GEMM operand is a parameter, so a weight is rounded to bf16 once per change instead of at every
 * product (forward, the backward's dX, every micro-batch). It costs 2 bytes per parameter; activations are still
 * rounded at each use, and so is a weight whose place in the image is not 256-byte aligned (see
 * {@code CudaBackend.operand}).
 *
 * <p>Why it is never stale. The image is <em>current</em> when each of its elements is {@code float_to_bf16} of the
 * arena's fp32 element, the same rounding the per-use cast does, so a GEMM gives the same bits either way. Every
 * arena tensor (the arena and all its views) carries this object ({@link CudaTensor#image()}), and the arena changes
 * only in these ways:
 * <ul>
 *   <li>AdamW ({@code adamw_f32}) writes each updated weight and its bf16 image in the same pass
 *   ({@link #updatedByOptimiser}); an update of the whole arena leaves the image current whatever it was before;</li>
 *   <li>every other write marks it stale ({@link #written}): the backend's {@code upload}, {@code uploadInts},
 *   {@code fill}, {@code copy}, {@code add}, {@code scale} (initialisation, checkpoints, parameters from the host,
 *   averaging, DiLoCo's outer step, tests setting weights) and the NCCL collective's in-place operations;</li>
 *   <li>no model op writes it: parameters are only ever GEMM and kernel inputs (the {@code Backend} contract).</li>
 * </ul>
 * The next GEMM that reads a parameter while the image is stale casts the whole arena once ({@code cast_f32_bf16}) and
 * marks it current ({@link #refreshed}). All of it runs on the device's one stream in call order, so a flag on the host
 * describes the device's state at that point of the stream.
 */
final class WeightImage {

    private final long address;
    private final long elements;
    private boolean current;

    /** The image at device address {@code address} (2 bytes per element) of an arena of {@code elements}; stale. */
    WeightImage(long address, long elements) {
        this.address = address;
        this.elements = elements;
    }

    /** Elements of the arena (and of the image). */
    long elements() {
        return elements;
    }

    /** The device address of the whole image. */
    long address() {
        return address;
    }

    /** The device address of the bf16 image of {@code t}'s first element; {@code t} is the arena or one of its views. */
    long address(CudaTensor t) {
        if (t.image() != this || t.offset() < 0 || t.offset() + t.size() > elements) {
            throw new IllegalArgumentException("tensor " + t.name() + " [" + t.offset() + ", " + (t.offset() + t.size())
                    + ") is not a range of the " + elements + "-element parameter arena of this image");
        }
        return address + 2 * t.offset();
    }

    /** Whether every element of the image is the bf16 rounding of the arena's element now (in stream order). */
    boolean current() {
        return current;
    }

    /** Something other than AdamW wrote (part of) the arena: the image must be cast again before its next use. */
    void written() {
        current = false;
    }

    /** The whole arena was cast to the image. */
    void refreshed() {
        current = true;
    }

    /**
     * AdamW updated {@code param} (the arena or a view of it) and wrote its image in the same pass: that range is
     * current; the whole image is when the update covered the whole arena, and stays as it was otherwise.
     */
    void updatedByOptimiser(CudaTensor param) {
        address(param);
        if (param.offset() == 0 && param.size() == elements) {
            current = true;
        }
    }
}

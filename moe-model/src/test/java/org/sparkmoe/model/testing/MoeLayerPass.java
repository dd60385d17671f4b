package org.sparkmoe.model.testing;

import java.util.LinkedHashMap;
import java.util.Map;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.moe.MoeLayer;

/**
 * One forward and backward of a model's first MoE layer on given rows, as the decoder runs it (so with expert
 * parallelism, the exchange with the other ranks): the layer's output, the input gradient for {@code dOut}, the
 * layer's scalars (expert loss, device loss, router entropy) and every parameter gradient by name after the model's
 * expert-parallel reduction. The test's loss is {@code ⟨out, dOut⟩} plus the two balance losses.
 *
 * <p>Legend: R = batch·seqLen rows, D width, K experts per token.
 */
public final class MoeLayerPass {

    /** What one pass produced; {@code choices_RK} are the layer's expert choices. */
    public record Result(float[] out_RD, float[] dx_RD, float expertLoss, float deviceLoss, float entropy,
                         Map<String, float[]> grads, int[] choices_RK) {
    }

    private MoeLayerPass() {
    }

    /** Runs {@code model}'s first MoE layer on {@code x_RD} (and token ids for hash routing) with output gradient {@code dOut_RD}. */
    public static Result run(DeepSeekMoeModel model, Backend backend, float[] x_RD, int[] tokens_R, float[] dOut_RD,
                             int batch, int seqLen) {
        int rows = batch * seqLen;
        int d = model.config().hiddenSize();
        Tensor x = backend.allocate("test x", DType.F32, (long) rows * d);
        Tensor dOut = backend.allocate("test dout", DType.F32, (long) rows * d);
        Tensor out = backend.allocate("test out", DType.F32, (long) rows * d);
        Tensor dx = backend.allocate("test dx", DType.F32, (long) rows * d);
        Tensor tokens = backend.allocate("test tokens", DType.I32, rows);
        backend.upload(x_RD, 0, x, 0, rows * d);
        backend.upload(dOut_RD, 0, dOut, 0, rows * d);
        backend.uploadInts(tokens_R, 0, tokens, 0, rows);
        backend.fill(model.parameters().grads(), 0f);
        MoeLayer layer = model.moeLayers().getFirst();
        layer.forward(x, out, tokens, batch, seqLen, true);
        layer.backward(dOut, x, dx, batch, seqLen);
        model.reduceExpertParallelGradients();
        float[] s = model.readScalars();
        int slot = layer.scalarSlot();
        Map<String, float[]> grads = new LinkedHashMap<>();
        for (ParameterSpec spec : model.parameters().layout().specs()) {
            if (spec.name().startsWith("model.layers." + layer.layerIndex() + ".mlp.")) {
                float[] g = new float[Math.toIntExact(spec.size())];
                backend.download(model.parameters().grads(), spec.offset(), g, 0, g.length);
                grads.put(spec.name(), g);
            }
        }
        return new Result(download(backend, out, rows * d), download(backend, dx, rows * d), s[slot], s[slot + 1],
                s[slot + 2], grads, layer.expertChoices(rows));
    }

    private static float[] download(Backend backend, Tensor t, int n) {
        float[] out = new float[n];
        backend.download(t, 0, out, 0, n);
        return out;
    }
}

package org.sparkmoe.model.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.decoder.DeepSeekMoeModel;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * Our engine against tensors produced by {@code src/test/python/make_reference.py} (PyTorch 2.11, transformers
 * 5.17, run once on the GPU machine's CPU): a tiny DeepSeekMoE checkpoint in 16B names, the 16B reference code's
 * logits, CE, seq-aux loss and autograd gradients, and HF transformers' {@code DeepseekV2Moe} (greedy, softmax,
 * scaling 1.0, no renormalisation) on layer 1's weights. Errors are max |ours − ref| / max |ref| per tensor.
 */
class ReferenceEqualityTest {

    static final int B = 2;
    static final int T = 8;

    @Test
    void logitsLossesGradientsAndHfMoeLayerMatchPyTorch() throws Exception {
        Path dir = Path.of(ReferenceEqualityTest.class.getResource("/reference/config.json").toURI()).getParent();
        Path refFile = dir.resolve("reference.safetensors");
        Safetensors.Header ref = Safetensors.readHeader(refFile);
        TrainConfig train = new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1, 0, 0.9, 0.95, 1e-8, 0, 0, B);
        CpuBackend backend = new CpuBackend(2);
        try (TrainingEngine engine = Checkpoints.load(dir, train, backend)) {
            DeepSeekMoeModel model = engine.model();
            float[] idsF = read(refFile, ref, "input_ids");
            int[] ids = new int[idsF.length];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = (int) idsF[i];
            }
            int valid = model.loadBatch(ids, 0, B, T + 1);
            double logitsErr = relErr(model.forwardLogits(B, T), read(refFile, ref, "logits"));

            backend.fill(model.parameters().grads(), 0f);
            model.forward(B, T, 1f / valid, 1f, true);
            model.backward(B, T);
            float[] s = model.readScalars();
            double ce = (double) s[0] / valid;
            double aux = s[1];
            double ceRef = read(refFile, ref, "ce_loss")[0];
            double auxRef = read(refFile, ref, "aux_loss")[0];

            float[] grads = new float[Math.toIntExact(engine.parameterCount())];
            backend.download(model.parameters().grads(), 0, grads, 0, grads.length);
            double gradErr = 0;
            String gradWorst = "";
            for (ParameterSpec spec : engine.layout().specs()) {
                float[] ours = java.util.Arrays.copyOfRange(grads, (int) spec.offset(),
                        (int) (spec.offset() + spec.size()));
                double e = relErr(ours, read(refFile, ref, "grad." + spec.name()));
                if (e > gradErr) {
                    gradErr = e;
                    gradWorst = spec.name();
                }
            }

            float[] x = read(refFile, ref, "moe.x");
            Tensor x_RD = backend.allocate("moe x", DType.F32, x.length);
            Tensor out_RD = backend.allocate("moe out", DType.F32, x.length);
            Tensor tokens_R = backend.allocate("tokens", DType.I32, B * T);
            backend.upload(x, 0, x_RD, 0, x.length);
            model.moeLayers().get(0).forward(x_RD, out_RD, tokens_R, B, T, false);
            float[] y = new float[x.length];
            backend.download(out_RD, 0, y, 0, y.length);
            double moeErr = relErr(y, read(refFile, ref, "moe.y_hf"));

            String report = String.format(java.util.Locale.ROOT, "max rel err: logits %.3g, CE %.3g, aux %.3g,"
                    + " gradients %.3g (%s), HF DeepseekV2Moe layer %.3g; reference metadata %s", logitsErr,
                    Math.abs(ce - ceRef) / ceRef, Math.abs(aux - auxRef) / auxRef, gradErr, gradWorst, moeErr,
                    ref.metadata());
            System.out.println(report);
            assertTrue(logitsErr < 1e-5, report);
            assertEquals(ceRef, ce, 1e-5 * ceRef, report);
            assertEquals(auxRef, aux, 1e-5 * auxRef, report);
            assertTrue(moeErr < 1e-5, report);
            assertTrue(gradErr < 1e-5, report);
        }
    }

    static float[] read(Path file, Safetensors.Header header, String name) throws Exception {
        Safetensors.Entry e = header.entries().get(name);
        if (e == null) {
            throw new AssertionError("reference tensor " + name + " missing; metadata " + header.metadata());
        }
        float[] out = new float[(int) e.elements()];
        Safetensors.read(file, header, e, out, 0);
        return out;
    }

    static double relErr(float[] ours, float[] ref) {
        assertEquals(ref.length, ours.length);
        double maxRef = 0;
        double maxDiff = 0;
        for (int i = 0; i < ref.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(ref[i]));
            maxDiff = Math.max(maxDiff, Math.abs(ours[i] - ref[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }
}

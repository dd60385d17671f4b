package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.checkpoint.Checkpoints;
import org.sparkmoe.model.checkpoint.Safetensors;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.ParameterSpec;
import org.sparkmoe.model.testing.TestConfigs;
import org.sparkmoe.model.testing.ThreadRanks;
import org.sparkmoe.model.train.EvalMetrics;
import org.sparkmoe.model.train.LrScheduleKind;
import org.sparkmoe.model.train.StepMetrics;
import org.sparkmoe.model.train.TrainConfig;
import org.sparkmoe.model.train.TrainingEngine;

/**
 * The bf16 weight images ({@link WeightImage}) on the GPU: training with them gives bit for bit the losses, weights and
 * AdamW state of training that casts every weight at each use (the same rounding of the same fp32 values); every way
 * the parameters are written (from the host, by range, scaled, re-initialised, by backend ops on a view, loaded from a
 * checkpoint, by a collective) reaches the next forward exactly as a backend without images computes it; one fused
 * AdamW launch over a layout's decay ranges gives the bits of one call per range and writes the image of every weight
 * it updates; a parameter operand read from the image gives the bits of a cast one, also at an offset inside the arena
 * (grouped GEMMs over a stacked expert slab), and one off the 256-byte alignment is cast instead; fp32 GEMM precision
 * keeps no image. Skipped without a GPU.
 */
class CudaWeightImagesTest {

    /**
     * {@code tiny} at width 128: every parameter then starts at a multiple of 128 elements, so every weight operand is
     * read from the image (at width 64 about half would be cast at each use for their alignment).
     */
    private static final ModelConfig TINY = TestConfigs.preset("tiny", "hidden_size=128");
    /** Two micro-batches per step, so each weight is read by several forwards and backwards between two updates. */
    private static final TrainConfig TRAIN =
            new TrainConfig(1e-3, LrScheduleKind.CONSTANT, 0, 1000, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0, 2);
    private static final int BATCH = 4;
    private static final int SEQ = TINY.maxSeqLen() + 1;

    private static int[] batch(SplittableRandom random) {
        return random.ints((long) BATCH * SEQ, 0, TINY.vocabSize()).toArray();
    }

    private static CudaBackend withImages(CudaDevice device) {
        return new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM);
    }

    private static CudaBackend castingAtEachUse(CudaDevice device) {
        return CudaBackend.castingWeightsAtEachUse(device, GemmPrecision.BF16, AttentionPath.GEMM);
    }

    private static WeightImage image(TrainingEngine engine) {
        return CudaTensor.of(engine.parameterArena()).image();
    }

    @Test
    void trainingWithImagesIsBitForBitTrainingThatCastsWeightsAtEachUse() {
        CudaDevice device = GpuTests.device();
        try (TrainingEngine images = TrainingEngine.create(TINY, TRAIN, withImages(device), 5);
             TrainingEngine casting = TrainingEngine.create(TINY, TRAIN, castingAtEachUse(device), 5)) {
            assertNotNull(image(images));
            assertNull(image(casting), "the diagnostic backend keeps no image");
            for (ParameterSpec spec : images.layout().specs()) {
                assertEquals(0, spec.offset() % 128, spec.name() + " is read from the image");
            }
            float[] initial = parameters(images);
            SplittableRandom data = new SplittableRandom(11);
            double first = 0;
            double last = 0;
            for (int s = 0; s < 12; s++) {
                int[] tokens = batch(data);
                CallStats calls = device.stats();
                calls.reset();
                StepMetrics a = images.step(tokens, BATCH, SEQ);
                long imageLaunches = calls.launches();
                long imageGemms = calls.gemms();
                calls.reset();
                StepMetrics b = casting.step(tokens, BATCH, SEQ);
                if (s == 1) {
                    System.out.printf("one step: %d launches with images, %d casting at each use (%d GEMM calls)%n",
                            imageLaunches, calls.launches(), calls.gemms());
                    assertEquals(calls.gemms(), imageGemms, "the same GEMMs");
                    assertTrue(imageLaunches < calls.launches(), "no weight is cast: " + imageLaunches + " launches vs "
                            + calls.launches());
                }
                assertEquals(b.loss(), a.loss(), 0, "loss at step " + s);
                assertEquals(b.gradNorm(), a.gradNorm(), 0, "gradient norm at step " + s);
                assertFalse(a.skipped());
                first = s == 0 ? a.loss() : first;
                last = a.loss();
                if (s % 4 == 3) {
                    EvalMetrics ea = images.evaluate(tokens, BATCH, SEQ);
                    EvalMetrics eb = casting.evaluate(tokens, BATCH, SEQ);
                    assertEquals(eb.loss(), ea.loss(), 0, "evaluation between steps " + s + " and " + (s + 1));
                    assertArrayEquals(eb.sequenceLoss(), ea.sequenceLoss(), 0);
                }
            }
            System.out.printf("bf16 images vs casting at each use: 12 steps bit for bit, loss %.5f -> %.5f%n", first,
                    last);
            assertTrue(image(images).current(), "AdamW wrote the whole image with the weights");
            float[] trained = parameters(images);
            assertNotEquals(0, IntStream.range(0, trained.length).filter(i -> trained[i] != initial[i]).count(),
                    "the weights moved");
            assertBitsEqual("parameters", parameters(casting), trained);
            float[] stateA = new float[Math.toIntExact(images.optimizerStateSize())];
            float[] stateB = new float[stateA.length];
            images.readOptimizerState(stateA);
            casting.readOptimizerState(stateB);
            assertBitsEqual("AdamW m and v", stateB, stateA);
        }
    }

    @Test
    void everyWayOfWritingTheParametersReachesTheNextForward(@TempDir Path dir) throws Exception {
        CudaDevice device = GpuTests.device();
        int[] tokens = batch(new SplittableRandom(3));
        try (TrainingEngine engine = TrainingEngine.create(TINY, TRAIN, withImages(device), 5);
             TrainingEngine reference = TrainingEngine.create(TINY, TRAIN, castingAtEachUse(device), 5)) {
            engine.step(tokens, BATCH, SEQ);
            engine.step(tokens, BATCH, SEQ);
            Forward check = new Forward(engine, reference, tokens);
            double loss = check.same("after two steps", Double.NaN);
            assertTrue(image(engine).current());

            float[] params = parameters(engine);
            Random random = Checks.seededRandom("weight images: writes");
            for (int i = 0; i < params.length; i++) {
                params[i] += (float) (random.nextGaussian() * 0.01);
            }
            engine.writeParameters(params);
            loss = check.same("writeParameters(float[])", loss);

            ParameterSpec head = engine.layout().get("lm_head.weight");
            float[] headValues = Checks.gaussian(random, Math.toIntExact(head.size()), 0.05);
            engine.writeParameters(head.offset(), head.size(), MemorySegment.ofArray(headValues));
            loss = check.same("writeParameters of the head's range", loss);

            engine.scaleParameters(0.8f);
            loss = check.same("scaleParameters", loss);

            engine.reset(77);
            loss = check.same("reset to another seed", loss);

            Backend backend = engine.backend();
            ParameterSpec q = engine.layout().get("model.layers.0.self_attn.q_proj.weight");
            Tensor qView = backend.view(engine.parameterArena(), q.name(), q.offset(), q.size());
            backend.add(qView, qView, qView);
            loss = check.same("backend add into a weight", loss);

            ParameterSpec experts = engine.layout().get("model.layers.1.mlp.experts.0.up_proj.weight");
            Tensor up = backend.view(engine.parameterArena(), "up_proj x8", experts.offset(), 8 * experts.size());
            Tensor values = backend.allocate("values", DType.F32, up.size());
            backend.upload(Checks.gaussian(random, Math.toIntExact(up.size()), 0.05), 0, values, 0,
                    Math.toIntExact(up.size()));
            backend.copy(values, up);
            loss = check.same("backend copy into the stacked experts", loss);

            ParameterSpec norm = engine.layout().get("model.norm.weight");
            backend.fill(backend.view(engine.parameterArena(), norm.name(), norm.offset(), norm.size()), 0.5f);
            loss = check.same("backend fill of the final norm", loss);

            Checkpoints.save(engine, dir, Safetensors.Dtype.F32);
            try (TrainingEngine loaded = Checkpoints.load(dir, TRAIN, withImages(device));
                 TrainingEngine scorer = Checkpoints.loadForInference(dir,
                         TrainConfig.forInference(TRAIN.microBatch()), withImages(device))) {
                new Forward(loaded, reference, tokens).same("a checkpoint loaded for training", Double.NaN);
                assertEquals(loss, loaded.evaluate(tokens, BATCH, SEQ).loss(), 0, "the saved weights");
                assertNotNull(image(scorer), "an inference engine reads its weights from an image too");
                // Its activation buffers are laid out differently, which may change cuBLAS's choice of kernel.
                assertEquals(loss, scorer.evaluate(tokens, BATCH, SEQ).loss(), 1e-5 * loss, "loaded for inference");
            }
        }
    }

    /** Evaluates the engine and a backend without images given the engine's parameters; the two must agree bit for bit. */
    private record Forward(TrainingEngine engine, TrainingEngine reference, int[] tokens) {

        /** The engine's loss now; it must differ from {@code before} (NaN: no check), so a stale image would show. */
        double same(String after, double before) {
            reference.writeParameters(parameters(engine));
            EvalMetrics e = engine.evaluate(tokens, BATCH, SEQ);
            EvalMetrics r = reference.evaluate(tokens, BATCH, SEQ);
            assertEquals(r.loss(), e.loss(), 0, after + ": the forward reads the weights as written");
            assertArrayEquals(r.sequenceLoss(), e.sequenceLoss(), 0, after);
            if (!Double.isNaN(before)) {
                assertNotEquals(before, e.loss(), after + " changed the model");
            }
            assertTrue(image(engine).current(), after + ": the forward cast the image");
            System.out.printf("%-45s loss %.6f, as without images%n", after, e.loss());
            return e.loss();
        }
    }

    @Test
    void theCollectivesInPlaceOperationsMarkTheImageStale() {
        CudaDevice device = GpuTests.device();
        int[] tokens = batch(new SplittableRandom(4));
        List<Object> done = new ThreadRanks(1).run((rank, rendezvous) -> {
            device.bindToThread();
            try (TrainingEngine engine = TrainingEngine.create(TINY, TRAIN, withImages(device), 5);
                 Collective collective = engine.backend().joinCollective(rank, 1, rendezvous)) {
                engine.evaluate(tokens, BATCH, SEQ);
                assertTrue(image(engine).current());
                collective.allReduceSum(engine.parameterArena());
                assertFalse(image(engine).current(), "after allReduceSum");
                engine.evaluate(tokens, BATCH, SEQ);
                collective.allReduceMean(engine.parameterArena());
                assertFalse(image(engine).current(), "after allReduceMean");
                engine.evaluate(tokens, BATCH, SEQ);
                collective.broadcast(engine.parameterArena(), 0);
                assertFalse(image(engine).current(), "after broadcast");
                engine.evaluate(tokens, BATCH, SEQ);
                assertTrue(image(engine).current());
                return null;
            }
        });
        assertEquals(1, done.size());
    }

    @Test
    void oneAdamwLaunchGivesTheBitsOfOneCallPerRangeAndWritesTheImage() {
        CudaDevice device = GpuTests.device();
        int n = 300_007;
        DecayRanges ranges = new DecayRanges(new long[] {100_000, 100_513, 250_000, n},
                new boolean[] {true, false, true, false});
        Random random = Checks.seededRandom("weight images: fused adamw");
        float[] p0 = Checks.gaussian(random, n, 0.02);
        float[] m0 = Checks.gaussian(random, n, 1e-3);
        float[] v0 = new float[n];
        for (int i = 0; i < n; i++) {
            v0[i] = (float) Math.abs(random.nextGaussian() * 1e-5);
        }
        try (CudaBackend backend = withImages(device)) {
            Tensor[] fused = state(backend, "fused", p0, m0, v0);
            Tensor[] perRange = state(backend, "per range", p0, m0, v0);
            for (int step = 1; step <= 3; step++) {
                float[] g = Checks.gaussian(random, n, 1e-2);
                backend.upload(g, 0, fused[1], 0, n);
                backend.upload(g, 0, perRange[1], 0, n);
                backend.adamw(fused[0], fused[1], fused[2], fused[3], ranges, 3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f,
                        step);
                for (int r = 0; r < ranges.count(); r++) {
                    long start = ranges.start(r);
                    long length = ranges.end(r) - start;
                    Tensor[] views = new Tensor[4];
                    for (int t = 0; t < 4; t++) {
                        views[t] = backend.view(perRange[t], "range " + r, start, length);
                    }
                    backend.adamw(views[0], views[1], views[2], views[3], DecayRanges.whole(length, ranges.decayed(r)),
                            3e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, step);
                }
            }
            String[] names = {"parameters", "gradients", "m", "v"};
            for (int t = 0; t < 4; t++) {
                assertBitsEqual("adamw " + names[t], download(backend, perRange[t], n), download(backend, fused[t], n));
            }
            float[] p = download(backend, fused[0], n);
            WeightImage fusedImage = CudaTensor.of(fused[0]).image();
            assertTrue(fusedImage.current(), "one update of the whole arena");
            short[] bits = imageBits(device, fusedImage);
            for (int i = 0; i < n; i++) {
                assertEquals(Bf16.fromFloat(p[i]), bits[i], "image element " + i);
            }
            WeightImage rangeImage = CudaTensor.of(perRange[0]).image();
            assertFalse(rangeImage.current(), "uploaded, then updated by parts: never cast as a whole");

            // A GEMM reading the per-range arena casts it; its image then equals the one AdamW wrote.
            int rows = 33;
            int k = 512;
            int cols = 96;
            Tensor x = backend.allocate("x", DType.F32, (long) rows * k);
            backend.upload(Checks.gaussian(random, rows * k, 1), 0, x, 0, rows * k);
            Tensor y = backend.allocate("y", DType.F32, (long) rows * cols);
            backend.matmulNT(rows, cols, k, x, backend.view(perRange[0], "w", 1_024, (long) cols * k), y, false);
            assertTrue(rangeImage.current());
            assertArrayEquals(bits, imageBits(device, rangeImage));
        }
    }

    @Test
    void aParameterOperandGivesTheBitsOfACastOneAtAnyOffset() {
        CudaDevice device = GpuTests.device();
        Random random = Checks.seededRandom("weight images: operands");
        int rows = 70;
        int n = 48;
        int k = 64;
        int[] groupRows = {9, 0, 30, 31};
        int groups = groupRows.length;
        long before = 97 * 128;
        long weights = (long) groups * n * k;
        float[] w = Checks.gaussian(random, Math.toIntExact(weights), 0.05);
        float[] a = Checks.gaussian(random, rows * k, 1);
        float[] dy = Checks.gaussian(random, rows * n, 1);
        try (CudaBackend backend = withImages(device)) {
            Tensor arena = backend.allocateParameters("arena", before + weights + 777);
            Tensor inArena = backend.view(arena, "w in the arena", before, weights);
            backend.upload(w, 0, inArena, 0, w.length);
            Tensor plain = backend.allocate("w", DType.F32, weights);
            backend.upload(w, 0, plain, 0, w.length);
            Tensor x = backend.allocate("x", DType.F32, (long) rows * k);
            backend.upload(a, 0, x, 0, a.length);
            Tensor d = backend.allocate("dy", DType.F32, (long) rows * n);
            backend.upload(dy, 0, d, 0, dy.length);
            Tensor out1 = backend.allocate("out1", DType.F32, (long) rows * Math.max(n, k));
            Tensor out2 = backend.allocate("out2", DType.F32, (long) rows * Math.max(n, k));

            backend.matmulNT(rows, n, k, x, backend.view(inArena, "w0", 0, (long) n * k), out1, false);
            backend.matmulNT(rows, n, k, x, backend.view(plain, "w0", 0, (long) n * k), out2, false);
            assertBitsEqual("matmulNT", download(backend, out2, rows * n), download(backend, out1, rows * n));
            backend.matmulNN(rows, k, n, d, backend.view(inArena, "w1", (long) n * k, (long) n * k), out1, false);
            backend.matmulNN(rows, k, n, d, backend.view(plain, "w1", (long) n * k, (long) n * k), out2, false);
            assertBitsEqual("matmulNN", download(backend, out2, rows * k), download(backend, out1, rows * k));
            backend.groupedMatmulNT(groupRows, n, k, x, inArena, out1, false);
            backend.groupedMatmulNT(groupRows, n, k, x, plain, out2, false);
            assertBitsEqual("groupedMatmulNT", download(backend, out2, rows * n), download(backend, out1, rows * n));
            backend.groupedMatmulNN(groupRows, n, k, d, inArena, out1, false);
            backend.groupedMatmulNN(groupRows, n, k, d, plain, out2, false);
            assertBitsEqual("groupedMatmulNN", download(backend, out2, rows * k), download(backend, out1, rows * k));

            // Off the 256-byte alignment of a scratch copy: cast at each use, the same bits again.
            Tensor offAligned = backend.view(arena, "w off alignment", before + 8, weights);
            backend.upload(w, 0, offAligned, 0, w.length);
            backend.groupedMatmulNT(groupRows, n, k, x, offAligned, out1, false);
            backend.groupedMatmulNT(groupRows, n, k, x, plain, out2, false);
            assertBitsEqual("groupedMatmulNT off alignment", download(backend, out2, rows * n),
                    download(backend, out1, rows * n));
        }
        try (CudaBackend fp32 = new CudaBackend(device, GemmPrecision.FP32, AttentionPath.GEMM)) {
            Tensor arena = fp32.allocateParameters("arena", 1_000);
            assertNull(CudaTensor.of(arena).image(), "fp32 GEMMs read the fp32 weights: no image, no memory");
            assertEquals(0, fp32.workspaceBytesInUse());
        }
        try (CudaBackend bf16 = withImages(device)) {
            bf16.allocateParameters("arena", 1_000);
            assertEquals(2_000, bf16.workspaceBytesInUse(), "2 bytes per parameter");
        }
    }

    private static Tensor[] state(CudaBackend backend, String name, float[] p, float[] m, float[] v) {
        Tensor params = backend.allocateParameters(name + " parameters", p.length);
        Tensor grads = backend.allocate(name + " gradients", DType.F32, p.length);
        Tensor moment1 = backend.allocate(name + " m", DType.F32, p.length);
        Tensor moment2 = backend.allocate(name + " v", DType.F32, p.length);
        backend.upload(p, 0, params, 0, p.length);
        backend.upload(m, 0, moment1, 0, p.length);
        backend.upload(v, 0, moment2, 0, p.length);
        return new Tensor[] {params, grads, moment1, moment2};
    }

    private static short[] imageBits(CudaDevice device, WeightImage image) {
        device.synchronize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_SHORT, image.elements());
            device.driver().copyDeviceToHost(host, image.address(), 2 * image.elements());
            return host.toArray(JAVA_SHORT);
        }
    }

    private static float[] parameters(TrainingEngine engine) {
        float[] p = new float[Math.toIntExact(engine.parameterCount())];
        engine.readParameters(p);
        return p;
    }

    private static float[] download(Backend backend, Tensor t, int n) {
        float[] out = new float[n];
        backend.download(t, 0, out, 0, n);
        return out;
    }

    private static void assertBitsEqual(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                throw new AssertionError(what + " differ first at element " + i + ": " + actual[i] + " instead of "
                        + expected[i]);
            }
        }
    }
}

package org.sparkmoe.jobs.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Engines kept on an executor: reused by the next task of the same run, closed before another run builds its own. */
class IdleEnginesTest {

    private static final List<String> EVENTS = new CopyOnWriteArrayList<>();

    /** A factory that records when its trainers are built and closed; two names are two run configurations. */
    private record Recording(String name) implements LocalTrainerFactory {

        @Override
        public LocalTrainer create(ComputeDevice device) {
            EVENTS.add("create " + name);
            return (LocalTrainer) Proxy.newProxyInstance(LocalTrainer.class.getClassLoader(),
                    new Class<?>[] {LocalTrainer.class}, (proxy, method, args) -> switch (method.getName()) {
                        case "close" -> {
                            EVENTS.add("close " + name);
                            yield null;
                        }
                        case "toString" -> "trainer " + name;
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == args[0];
                        default -> throw new UnsupportedOperationException(method.getName());
                    });
        }

        @Override
        public float[] initialParameters() {
            return new float[0];
        }

        @Override
        public String tokenizerHash() {
            return "none";
        }

        @Override
        public int maxSeqLenPlusOne() {
            return 2;
        }

        @Override
        public int vocabSize() {
            return 1;
        }

        @Override
        public String describeJson() {
            return "{}";
        }

        @Override
        public void exportModel(long count, org.sparkmoe.model.checkpoint.VectorRanges.Source params,
                                org.sparkmoe.model.checkpoint.CheckpointFiles files) {}
    }

    @org.junit.jupiter.api.Test
    void theNextTaskOfTheRunReusesAnEngineAndAnotherRunClosesThemBeforeBuildingItsOwn() {
        Recording runA = new Recording("a");
        Recording runB = new Recording("b");
        LocalTrainer first = IdleEngines.take(runA, ComputeDevice.CPU);
        IdleEngines.giveBack(runA, ComputeDevice.CPU, first);
        assertSame(first, IdleEngines.take(runA, ComputeDevice.CPU), "the same run takes the idle engine");
        IdleEngines.giveBack(runA, ComputeDevice.CPU, first);
        LocalTrainer other = IdleEngines.take(runB, ComputeDevice.CPU);
        // Closed before the new one is built: an executor never holds both runs' engines (small: ~2 GB each).
        assertEquals(List.of("create a", "close a", "create b"), EVENTS);
        IdleEngines.giveBack(runB, ComputeDevice.CPU, other);
    }
}

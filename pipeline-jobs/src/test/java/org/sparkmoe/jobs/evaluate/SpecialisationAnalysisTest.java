package org.sparkmoe.jobs.evaluate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.ModelPresets;
import org.sparkmoe.model.moe.RoutingAblation;

/** Which routings the analyses score for the bundled presets and variants a user would evaluate. */
class SpecialisationAnalysisTest {

    static final List<Double> PAPER_SHARES = List.of(0.0, 1.0 / 16, 2.0 / 16, 3.0 / 16, 4.0 / 16);

    static ModelConfig preset(String name, String... overrides) {
        Properties props = new Properties();
        try (InputStream in = SpecialisationAnalysisTest.class.getClassLoader()
                .getResourceAsStream("sparkmoe-conf/models/" + name + ".properties")) {
            props.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (String o : overrides) {
            props.setProperty(o.substring(0, o.indexOf('=')), o.substring(o.indexOf('=') + 1));
        }
        return ModelPresets.fromProperties(name, props);
    }

    @Test
    void thePapersModelGetsThePapersSettingsEachScoredOnce() {
        // val-2b is the paper's 2B model: 1 shared + 63 routed, top-7; 1/16..4/16 of 63 round to 4, 8, 12, 16.
        ModelConfig model = preset("val-2b");
        SpecialisationAnalysis plan = SpecialisationAnalysis.plan(model, PAPER_SHARES, List.of(3, 4, 5, 6, 7), true);
        int experts = model.nRoutedExperts();
        List<Integer> disabled = plan.points().stream().filter(p -> p.analysis().equals(SpecialisationAnalysis.DISABLED))
                .map(p -> p.ablation().disabledExperts(experts)).toList();
        assertEquals(List.of(0, 4, 8, 12, 16), disabled);
        RoutingAblation trained = RoutingAblation.baseline(model);
        // 4 disabled shares + K' = 3..6 + two without the shared expert; the trained routing is the validation pass.
        assertEquals(4 + 4 + 2, plan.ablations().size());
        assertTrue(!plan.ablations().contains(trained));
        assertTrue(plan.ablations().contains(new RoutingAblation(0, model.numExpertsPerTok() + 1, false)));
        assertEquals(List.of(), plan.notes());
    }

    @Test
    void whatAModelCannotRunIsLeftOutWithANote() {
        ModelConfig tiny = preset("tiny");
        SpecialisationAnalysis big = SpecialisationAnalysis.plan(tiny, List.of(0.0, 0.5, 0.875), List.of(1, 8, 9), true);
        assertEquals(List.of(0.0, 0.5), big.points().stream()
                .filter(p -> p.analysis().equals(SpecialisationAnalysis.DISABLED)).map(p -> p.x()).toList());
        String notes = String.join("\n", big.notes());
        assertTrue(notes.contains("disabled_top_experts 0.875 left out") && notes.contains("leaves 1"), notes);
        assertTrue(notes.contains("activated_routed_experts 9 left out"), notes);

        SpecialisationAnalysis gshard = SpecialisationAnalysis.plan(preset("tiny", "n_shared_experts=0"),
                PAPER_SHARES, List.of(1, 2), true);
        assertTrue(gshard.points().stream().noneMatch(p -> p.analysis().equals(SpecialisationAnalysis.SHARED)));
        assertTrue(String.join("\n", gshard.notes()).contains("no shared experts to disable"));

        SpecialisationAnalysis hash = SpecialisationAnalysis.plan(preset("val-2b-hash"), PAPER_SHARES, List.of(1),
                true);
        assertTrue(hash.points().stream().allMatch(p -> p.ablation().disabledExperts(64) == 0
                && p.ablation().activatedExperts() <= 2), hash.points().toString());
        assertTrue(String.join("\n", hash.notes()).contains("hash routing"), hash.notes().toString());

        SpecialisationAnalysis dense = SpecialisationAnalysis.plan(preset("val-2b-dense"), PAPER_SHARES, List.of(1),
                true);
        assertEquals(List.of(), dense.ablations());
        assertTrue(dense.notes().getFirst().contains("no MoE layers"), dense.notes().toString());
    }
}

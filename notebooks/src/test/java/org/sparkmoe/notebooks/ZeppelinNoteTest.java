package org.sparkmoe.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.TypeDeclSnippet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.charts.Charts;
import org.sparkmoe.jobs.testing.LocalSpark;
import org.sparkmoe.jobs.testing.SharedData;

/**
 * Executes the exported Zeppelin note {@code docs/zeppelin/follow-a-run.zpln} the way Zeppelin would, without a
 * Zeppelin: its note form {@code $${run}} is filled in with a small real run (the tiny MoE trained and evaluated by
 * the real jobs), and every {@code %java} paragraph is run as Zeppelin's Java interpreter runs one: on its own, as
 * a class whose {@code main} is called, its standard output being the paragraph's result. Here a fresh JShell per
 * paragraph, executing in this JVM with the project's classpath, compiles and calls it; a paragraph that does not
 * compile, throws, or prints nothing fails the test, and every {@code %html} image must decode as a PNG chart.
 * {@code %md} paragraphs have no code. Anything else (a Scala {@code %spark} paragraph) fails: the note is kept in
 * the form this test can execute.
 */
class ZeppelinNoteTest {

    private static final Pattern FORM = Pattern.compile("\\$\\$?\\{([A-Za-z0-9_]+)(?:=([^}]*))?}");
    private static final Pattern IMAGE = Pattern.compile("<img src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"/>");

    @TempDir
    static Path dir;
    private static String run;

    @BeforeAll
    static void train() throws Exception {
        LocalSpark.get();
        String manifest = ByteLevelDataset.write(dir.resolve("bytes").toUri().toString(),
                SharedData.trainCorpus().resolve("en_wikitext.jsonl").toUri().toString(), 12,
                SharedData.validationCorpus().resolve("en.jsonl").toUri().toString(), 4);
        run = new SmallRun(dir.resolve("runs").toUri().toString(), "zeppelin", manifest, "diloco", 2, 2, 2).ensure();
    }

    @Test
    void everyParagraphOfTheFollowARunNoteExecutes() throws Exception {
        JsonNode note = new ObjectMapper().readTree(repository().resolve("docs/zeppelin/follow-a-run.zpln").toFile());
        Map<String, String> forms = Map.of("run", run);
        int executed = 0;
        int charts = 0;
        for (JsonNode paragraph : note.path("paragraphs")) {
            String title = paragraph.path("title").asText();
            String text = paragraph.path("text").asText();
            String interpreter = text.lines().findFirst().orElse("").strip();
            String code = text.substring(text.indexOf('\n') + 1);
            switch (interpreter) {
                case "%md" -> { }
                case "%java" -> {
                    String output = executeJavaParagraph(title, fillForms(code, forms));
                    assertFalse(output.isBlank(), title + ": printed nothing");
                    if (output.startsWith("%html")) {
                        charts += checkImages(title, output);
                    }
                    executed++;
                }
                default -> fail("paragraph '" + title + "' uses " + interpreter + ", which this test cannot execute;"
                        + " write it for %java (a class with a main), as the other paragraphs are");
            }
        }
        assertEquals(8, executed, "the note's Java paragraphs");
        assertTrue(charts >= 6, "loss, auxiliary losses, tokens/s, learning rate, expert load, CV: " + charts);
    }

    @Test
    void formsAreFilledAsZeppelinDoes() {
        assertEquals("of(\"/r\") \"/r\" x", fillForms("of(\"$${run=hdfs:///a}\") \"$${run}\" ${x=x}", Map.of("run", "/r")));
    }

    /**
     * Zeppelin's simple templates: {@code $${name=default}} (a note form, shared by every paragraph) and
     * {@code ${name=default}} (a paragraph form) become the form's value, or its default when none was entered.
     */
    private static String fillForms(String code, Map<String, String> values) {
        Matcher m = FORM.matcher(code);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = values.getOrDefault(m.group(1), m.group(2));
            if (value == null) {
                fail("form " + m.group() + " has neither a value nor a default");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        return m.appendTail(out).toString();
    }

    /** Compiles the paragraph in a fresh JShell and calls its class's {@code main}; returns what it printed. */
    private static String executeJavaParagraph(String title, String code) throws Exception {
        PrintStream console = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (JShell shell = JShell.builder().executionEngine("local").build()) {
            for (String entry : classpath()) {
                shell.addToClasspath(entry);
            }
            String mainClass = null;
            SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
            for (String rest = code; !rest.isBlank(); ) {
                SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(rest);
                if (info.completeness() != SourceCodeAnalysis.Completeness.COMPLETE
                        && info.completeness() != SourceCodeAnalysis.Completeness.COMPLETE_WITH_SEMI) {
                    fail(title + ": incomplete code at: " + rest.strip().lines().findFirst().orElse(""));
                }
                for (SnippetEvent event : check(shell, title, shell.eval(info.source()))) {
                    if (event.snippet() instanceof TypeDeclSnippet type && info.source().contains("void main(")) {
                        mainClass = type.name();
                    }
                }
                rest = info.remaining();
            }
            assertNotNull(mainClass, title + ": no class with a main method, which Zeppelin's %java interpreter calls");
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            try {
                check(shell, title, shell.eval(mainClass + ".main(new String[0]);"));
            } finally {
                System.setOut(console);
            }
        }
        return printed.toString(StandardCharsets.UTF_8);
    }

    private static List<SnippetEvent> check(JShell shell, String title, List<SnippetEvent> events) {
        for (SnippetEvent event : events) {
            if (event.exception() != null) {
                fail(title + ": " + event.snippet().source().strip().lines().findFirst().orElse("") + " threw "
                        + event.exception(), event.exception());
            }
            if (event.status() == Snippet.Status.REJECTED) {
                List<String> errors = new ArrayList<>();
                shell.diagnostics(event.snippet()).forEach(d -> errors.add(d.getMessage(null)));
                fail(title + ": does not compile: " + errors);
            }
        }
        return events;
    }

    /** Each inline PNG of an {@code %html} result must decode to a chart of the notebooks' size. */
    private static int checkImages(String title, String html) throws Exception {
        Matcher m = IMAGE.matcher(html);
        int images = 0;
        while (m.find()) {
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(m.group(1))));
            assertNotNull(image, title + ": the inline image is not a PNG");
            assertEquals(Charts.WIDTH, image.getWidth(), title);
            images++;
        }
        assertTrue(images > 0, title + ": %html without an image");
        return images;
    }

    /** The test classpath: surefire passes it in a manifest-only jar, and names it in this property. */
    private static List<String> classpath() {
        String path = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Map<String, String> entries = new LinkedHashMap<>();
        for (String entry : path.split(File.pathSeparator)) {
            if (!entry.isBlank()) {
                entries.put(entry, entry);
            }
        }
        return new ArrayList<>(entries.values());
    }

    private static Path repository() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.exists(p.resolve("docs/zeppelin"))) {
                return p;
            }
        }
        throw new IllegalStateException("no docs/zeppelin above " + Path.of("").toAbsolutePath());
    }
}

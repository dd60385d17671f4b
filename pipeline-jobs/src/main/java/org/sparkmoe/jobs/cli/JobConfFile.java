package org.sparkmoe.jobs.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A job's {@code conf/<job>.properties}, the one place its options are written: each key with its default, and the
 * comment block right above the key as its one description, which {@code --help} prints. The description may start
 * with markers: {@code [required]}, {@code [repeatable]} (each {@code --key value} on the command line is one list
 * item, commas included) and {@code [switch]} ({@code --key} alone means true). A comment block followed by a blank
 * line (the file's header) describes no key.
 *
 * <pre>
 *   # [required] [repeatable] Input files, directories or globs (any Hadoop URI).
 *   input=
 * </pre>
 *
 * @param origin   where the file came from, for messages ({@code conf/train.properties})
 * @param options  every key in file order, with its description and markers
 * @param defaults every key's default value (empty when the file gives none)
 */
public record JobConfFile(String origin, List<JobOption> options, Map<String, String> defaults) {

    /** Where the bundled copies of {@code conf/} live inside the jar. */
    public static final String RESOURCE_DIR = "sparkmoe-conf/";

    private static final Pattern MARKER = Pattern.compile("^\\[(required|repeatable|switch)]\\s*");
    private static final Map<String, Optional<JobConfFile>> BUNDLED = new ConcurrentHashMap<>();

    public JobConfFile {
        options = List.copyOf(options);
        defaults = Map.copyOf(defaults);
    }

    /** The bundled {@code conf/<job>.properties} of {@code job}; a job without one has no options. */
    public static JobConfFile of(Job job) {
        return bundled(job.defaultsResource()).orElse(new JobConfFile("conf/" + job.defaultsResource(), List.of(),
                Map.of()));
    }

    /** A bundled file by name (e.g. {@code train.properties}), or empty when the jar has none. */
    public static Optional<JobConfFile> bundled(String fileName) {
        return BUNDLED.computeIfAbsent(fileName, name -> {
            try (InputStream in = JobConfFile.class.getClassLoader().getResourceAsStream(RESOURCE_DIR + name)) {
                return in == null ? Optional.empty()
                        : Optional.of(parse("conf/" + name, new String(in.readAllBytes(), StandardCharsets.UTF_8)));
            } catch (IOException e) {
                throw new IllegalStateException("cannot read the bundled " + RESOURCE_DIR + name + ": " + e.getMessage(), e);
            }
        });
    }

    /**
     * Reads a conf file's text. A key without a description, an unknown marker or a key given twice is an error in
     * the file, named with its line.
     */
    public static JobConfFile parse(String origin, String text) {
        Properties values = new Properties();
        try {
            values.load(new StringReader(text));
        } catch (IOException | IllegalArgumentException e) {
            throw new IllegalStateException(origin + " is not a valid .properties file: " + e.getMessage(), e);
        }
        List<JobOption> options = new ArrayList<>();
        Map<String, String> defaults = new LinkedHashMap<>();
        List<String> comment = new ArrayList<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) {
                comment.clear();
            } else if (line.startsWith("#") || line.startsWith("!")) {
                comment.add(line.substring(1).strip());
            } else {
                String key = keyOf(line);
                if (comment.isEmpty()) {
                    throw new IllegalStateException(origin + " line " + (i + 1) + ": key '" + key + "' has no"
                            + " description: write what it controls in a comment right above it");
                }
                if (defaults.containsKey(key)) {
                    throw new IllegalStateException(origin + " line " + (i + 1) + ": key '" + key + "' is given twice");
                }
                options.add(option(key, comment));
                defaults.put(key, values.getProperty(key, "").strip());
                comment.clear();
                while (continues(lines[i]) && i + 1 < lines.length) {
                    i++;
                }
            }
        }
        return new JobConfFile(origin, options, defaults);
    }

    private static JobOption option(String key, List<String> comment) {
        String description = String.join("\n", comment);
        boolean required = false;
        boolean repeatable = false;
        boolean flag = false;
        for (Matcher m = MARKER.matcher(description); m.find(); m = MARKER.matcher(description)) {
            switch (m.group(1)) {
                case "required" -> required = true;
                case "repeatable" -> repeatable = true;
                default -> flag = true;
            }
            description = description.substring(m.end());
        }
        return new JobOption(key, description, repeatable, required, flag);
    }

    /** The key of a {@code key=value}, {@code key: value} or {@code key value} line (our keys have no escapes). */
    private static String keyOf(String line) {
        int end = 0;
        while (end < line.length() && "=: \t".indexOf(line.charAt(end)) < 0) {
            end++;
        }
        return line.substring(0, end);
    }

    /** A line ending in an odd number of backslashes continues on the next one. */
    private static boolean continues(String line) {
        int slashes = 0;
        for (int i = line.length() - 1; i >= 0 && line.charAt(i) == '\\'; i--) {
            slashes++;
        }
        return slashes % 2 == 1;
    }
}

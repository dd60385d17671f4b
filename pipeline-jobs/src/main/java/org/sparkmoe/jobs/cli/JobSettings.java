package org.sparkmoe.jobs.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The resolved, immutable settings of one job run, each value with where it came from.
 *
 * <p>Resolution order, later wins: the job's bundled {@code conf/<job>.properties}; the file given by
 * {@code --config} (any Hadoop filesystem URI or local path); {@code --set key=value} and {@code --key value} on the
 * command line. A key the job does not declare is refused, except {@code spark.*} keys, which go to Spark.
 *
 * <p>List values ({@link #list}): a value from a {@code .properties} file, from {@code --set key=value}, from
 * {@link #of}/{@link #with}, or from {@code --key value} of an option that is not repeatable, is one string whose
 * list form is comma-separated ({@code lid.keep_languages=en,zh}). Each {@code --key value} of a
 * {@linkplain JobOption#repeatable() repeatable} option is one list item as given, commas included, so a Hadoop glob
 * such as {@code --input hdfs://nn/corpus/{a,b}.jsonl} or a file name with a comma stays whole: repeating the option
 * on the command line is the way to give list items that contain commas.
 */
public final class JobSettings {

    /** Where the bundled defaults live inside the jar (copied from the repository's {@code conf/}). */
    public static final String CONF_RESOURCE_DIR = "sparkmoe-conf/";

    private static final String COMMAND_LINE = "the command line";

    /** One resolved value: its text, its items for {@link #list}, and where it came from. */
    private record Value(String text, List<String> items, String origin) {

        /** A single string whose list form is comma-separated. */
        static Value text(String text, String origin) {
            return new Value(text, Arrays.stream(text.split(",")).map(String::strip).filter(s -> !s.isEmpty())
                    .toList(), origin);
        }

        /** Separate list items, each kept whole; the text (for {@link #string} and logs) joins them with commas. */
        static Value items(List<String> items, String origin) {
            List<String> kept = items.stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
            return new Value(String.join(",", kept), kept, origin);
        }
    }

    private final String jobName;
    private final Map<String, Value> values;

    private JobSettings(String jobName, Map<String, Value> values) {
        this.jobName = jobName;
        this.values = Collections.unmodifiableMap(new TreeMap<>(values));
    }

    /** Parses the command-line arguments that follow the job name. */
    public static JobSettings resolve(Job job, List<String> args) {
        return resolve(job, args, true);
    }

    /** The bundled defaults alone, for {@code --help}. */
    static JobSettings defaults(Job job) {
        return resolve(job, List.of(), false);
    }

    private static JobSettings resolve(Job job, List<String> args, boolean checkRequired) {
        Map<String, JobOption> declared = new LinkedHashMap<>();
        for (JobOption option : job.options()) {
            declared.put(option.key(), option);
        }
        Map<String, Value> values = new LinkedHashMap<>();
        String defaultsName = CONF_RESOURCE_DIR + job.defaultsResource();
        try (InputStream in = JobSettings.class.getClassLoader().getResourceAsStream(defaultsName)) {
            if (in != null) {
                mergeProperties(values, declared, job, load(in), "conf/" + job.defaultsResource());
            }
        } catch (IOException e) {
            throw new UsageException("cannot read the bundled defaults " + defaultsName + ": " + e.getMessage(), e);
        }

        Map<String, List<Value>> commandLine = new LinkedHashMap<>();
        String configPath = null;
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (arg.equals("--config")) {
                configPath = valueAfter(args, i++, arg);
            } else if (arg.equals("--set")) {
                String assignment = valueAfter(args, i++, arg);
                int eq = assignment.indexOf('=');
                if (eq <= 0) {
                    throw new UsageException("--set " + assignment + ": expected key=value, for example --set minhash.bands=14");
                }
                commandLine.computeIfAbsent(assignment.substring(0, eq).strip(), k -> new ArrayList<>())
                        .add(Value.text(assignment.substring(eq + 1).strip(), COMMAND_LINE));
            } else if (arg.startsWith("--") && arg.length() > 2) {
                String key = arg.substring(2);
                int eq = key.indexOf('=');
                String value;
                if (eq > 0) {
                    value = key.substring(eq + 1);
                    key = key.substring(0, eq);
                } else if (declared.containsKey(key) && declared.get(key).flag()) {
                    boolean explicit = i + 1 < args.size() && args.get(i + 1).matches("(?i)true|false");
                    value = explicit ? args.get(++i) : "true";
                } else {
                    value = valueAfter(args, i++, arg);
                }
                commandLine.computeIfAbsent(key, k -> new ArrayList<>()).add(optionValue(declared.get(key), value));
            } else if (job.positionalOption().isPresent() && !commandLine.containsKey(job.positionalOption().get())) {
                String key = job.positionalOption().get();
                commandLine.computeIfAbsent(key, k -> new ArrayList<>()).add(optionValue(declared.get(key), arg));
            } else {
                throw new UsageException("unexpected argument '" + arg + "' for job " + job.name()
                        + ": options are written --key value or --set key=value; see 'sparkmoe " + job.name() + " --help'");
            }
        }
        if (configPath != null) {
            mergeProperties(values, declared, job, readConfig(configPath), configPath);
        }
        for (Map.Entry<String, List<Value>> entry : commandLine.entrySet()) {
            String key = entry.getKey();
            checkKnown(key, declared, job, COMMAND_LINE);
            JobOption option = declared.get(key);
            List<Value> given = entry.getValue();
            if (given.size() > 1 && (option == null || !option.repeatable())) {
                throw new UsageException("option --" + key + " was given " + given.size() + " times but takes one value");
            }
            values.put(key, given.size() == 1 ? given.getFirst()
                    : Value.items(given.stream().flatMap(v -> v.items().stream()).toList(), COMMAND_LINE));
        }
        for (JobOption option : declared.values()) {
            Value v = values.get(option.key());
            if (checkRequired && option.required() && (v == null || v.text().isBlank())) {
                throw new UsageException("job " + job.name() + " needs --" + option.key() + ": " + option.description());
            }
        }
        return new JobSettings(job.name(), values);
    }

    /**
     * {@code --key value}: one list item, commas included, when the option is repeatable; else one string whose
     * list form is comma-separated, as in a config file.
     */
    private static Value optionValue(JobOption option, String value) {
        return option != null && option.repeatable() ? Value.items(List.of(value), COMMAND_LINE)
                : Value.text(value, COMMAND_LINE);
    }

    /**
     * Settings made directly from a map, for tests and for jobs that call other jobs (each value is one string whose
     * list form is comma-separated, as in a config file; to pass list items containing commas, use {@link #resolve}
     * with a repeated {@code --key value}).
     */
    public static JobSettings of(String jobName, Map<String, String> entries) {
        Map<String, Value> values = new LinkedHashMap<>();
        entries.forEach((k, v) -> values.put(k, Value.text(v, "code")));
        return new JobSettings(jobName, values);
    }

    /** A copy with some keys replaced. */
    public JobSettings with(Map<String, String> overrides) {
        Map<String, Value> copy = new LinkedHashMap<>(values);
        overrides.forEach((k, v) -> copy.put(k, Value.text(v, "code")));
        return new JobSettings(jobName, copy);
    }

    private static String valueAfter(List<String> args, int index, String flag) {
        if (index + 1 >= args.size()) {
            throw new UsageException("option " + flag + " needs a value");
        }
        return args.get(index + 1);
    }

    private static Properties load(InputStream in) throws IOException {
        Properties p = new Properties();
        try (Reader reader = new InputStreamReader(in, StandardCharsets.UTF_8)) {
            p.load(reader);
        }
        return p;
    }

    private static Properties readConfig(String location) {
        try {
            Path path = new Path(location);
            FileSystem fs = path.getFileSystem(new Configuration());
            if (!fs.exists(path)) {
                throw new UsageException("config file " + location + " does not exist: give a path to a .properties file,"
                        + " for example conf/" + "prepare.properties");
            }
            try (InputStream in = fs.open(path)) {
                return load(in);
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new UsageException("cannot read config file " + location + ": " + e.getMessage(), e);
        }
    }

    private static void mergeProperties(Map<String, Value> values, Map<String, JobOption> declared, Job job,
                                        Properties props, String origin) {
        for (String key : new TreeMap<>(props).keySet().stream().map(Object::toString).toList()) {
            checkKnown(key, declared, job, origin);
            values.put(key, Value.text(props.getProperty(key).strip(), origin));
        }
    }

    private static void checkKnown(String key, Map<String, JobOption> declared, Job job, String origin) {
        if (!declared.containsKey(key) && !key.startsWith("spark.")) {
            throw new UsageException("unknown option '" + key + "' in " + origin + " for job " + job.name()
                    + "; known options: " + String.join(", ", declared.keySet())
                    + " (and any spark.* key); see 'sparkmoe " + job.name() + " --help'");
        }
    }

    public String jobName() {
        return jobName;
    }

    public boolean has(String key) {
        Value v = values.get(key);
        return v != null && !v.text().isBlank();
    }

    public Optional<String> find(String key) {
        return has(key) ? Optional.of(values.get(key).text()) : Optional.empty();
    }

    public String string(String key) {
        Value v = values.get(key);
        if (v == null || v.text().isBlank()) {
            throw new UsageException("job " + jobName + " needs a value for '" + key + "' (give --" + key + " VALUE)");
        }
        return v.text();
    }

    public String string(String key, String fallback) {
        return has(key) ? values.get(key).text() : fallback;
    }

    /**
     * The value as a list, empty when unset: a config-file, {@code --set} or single-valued option's text split at
     * commas, or the values of a repeatable option given on the command line, each whole (see the class comment).
     */
    public List<String> list(String key) {
        return has(key) ? values.get(key).items() : List.of();
    }

    public int integer(String key) {
        return parse(key, Integer::parseInt, "an integer");
    }

    public long longValue(String key) {
        return parse(key, Long::parseLong, "an integer");
    }

    public double number(String key) {
        return parse(key, Double::parseDouble, "a number");
    }

    public boolean bool(String key) {
        return parse(key, text -> switch (text.toLowerCase()) {
            case "true", "yes", "on", "1" -> true;
            case "false", "no", "off", "0" -> false;
            default -> throw new IllegalArgumentException(text);
        }, "true or false");
    }

    /** Fails with a message naming the key, its value, where it was set and the allowed range. */
    public void require(boolean condition, String key, String expectation) {
        if (!condition) {
            Value v = values.get(key);
            throw new UsageException("option " + key + "=" + (v == null ? "<unset>" : v.text())
                    + (v == null ? "" : " (from " + v.origin() + ")") + " is invalid: it must be " + expectation);
        }
    }

    private <T> T parse(String key, Function<String, T> parser, String what) {
        String text = string(key);
        try {
            return parser.apply(text);
        } catch (RuntimeException e) {
            throw new UsageException("option " + key + "=" + text + " (from " + values.get(key).origin()
                    + ") is not " + what);
        }
    }

    /** All {@code spark.*} keys, for the SparkConf. */
    public Map<String, String> sparkConf() {
        Map<String, String> conf = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith("spark.")) {
                conf.put(k, v.text());
            }
        });
        return conf;
    }

    /**
     * Every resolved key and value, sorted, for logs and for the run's resolved-config file. A repeatable option's
     * command-line values appear joined with commas: read back as a config file they list the same, unless one of
     * them contains a comma (a record that must keep such values whole stores {@link #list}, as prepare's report
     * stores its inputs).
     */
    public Map<String, String> asMap() {
        Map<String, String> out = new TreeMap<>();
        values.forEach((k, v) -> out.put(k, v.text()));
        return out;
    }
}

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
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.spark.JobHadoop;

/**
 * The resolved, immutable settings of one job run, each value with where it came from.
 *
 * <p>Resolution order, later wins: the job's bundled {@code conf/<job>.properties}; the file given by
 * {@code --config} (any Hadoop filesystem URI or local path, read with the command line's {@code spark.hadoop.*});
 * {@code --set key=value} and {@code --key value} on the command line. A key the job's conf file does not declare is
 * refused, except {@code spark.*} keys, which go to Spark, and the job's {@link Job#overrideKeys()}. Reading a key
 * that the conf file does not declare is a bug in the job and fails at once ({@link IllegalStateException}): the
 * conf file documents every key a job reads.
 *
 * <p>List values ({@link #list}): a value from a {@code .properties} file, from {@code --set key=value}, from
 * {@link #of}/{@link #with}, or from {@code --key value} of an option that is not repeatable, is one string whose
 * list form is comma-separated ({@code lid.keep-languages=en,zh}). Each {@code --key value} of a
 * {@linkplain JobOption#repeatable() repeatable} option is one list item as given, commas included, so a Hadoop glob
 * such as {@code --input hdfs://nn/corpus/{a,b}.jsonl} or a file name with a comma stays whole: repeating the option
 * on the command line is the way to give list items that contain commas.
 */
public final class JobSettings {

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

    /** The keys a job accepts: its conf file's options, its override keys, and {@code spark.*}. */
    private record Keys(String jobName, Map<String, JobOption> declared, Set<String> overrides) {

        static Keys of(Job job) {
            Map<String, JobOption> declared = new LinkedHashMap<>();
            for (JobOption option : job.options()) {
                declared.put(option.key(), option);
            }
            return new Keys(job.name(), declared, Set.copyOf(job.overrideKeys()));
        }

        /** A registered job's keys, else those of a bundled conf file of that name, else none but spark.*. */
        static Keys named(String jobName) {
            Job job = SparkMoeMain.jobs().get(jobName);
            if (job != null) {
                return of(job);
            }
            Map<String, JobOption> declared = new LinkedHashMap<>();
            JobConfFile.bundled(jobName + ".properties")
                    .ifPresent(conf -> conf.options().forEach(o -> declared.put(o.key(), o)));
            return new Keys(jobName, declared, Set.of());
        }

        boolean accepts(String key) {
            return declared.containsKey(key) || overrides.contains(key) || key.startsWith("spark.");
        }

        void checkKnown(String key, String origin) {
            if (!accepts(key)) {
                throw new UsageException("unknown option '" + key + "' in " + origin + " for job " + jobName
                        + "; known options: " + String.join(", ", declared.keySet())
                        + (overrides.isEmpty() ? "" : ", the model config keys " + new TreeSet<>(overrides))
                        + " and any spark.* key; see 'sparkmoe " + jobName + " --help'");
            }
        }
    }

    private final Keys keys;
    private final Map<String, Value> values;

    private JobSettings(Keys keys, Map<String, Value> values) {
        this.keys = keys;
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
        Keys keys = Keys.of(job);
        Map<String, JobOption> declared = keys.declared();
        Map<String, Value> values = new LinkedHashMap<>();
        JobConfFile conf = JobConfFile.of(job);
        conf.defaults().forEach((key, value) -> values.put(key, Value.text(value, conf.origin())));

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
            Map<String, String> sparkSettings = new LinkedHashMap<>();
            commandLine.forEach((k, v) -> {
                if (k.startsWith("spark.")) {
                    sparkSettings.put(k, v.getLast().text());
                }
            });
            mergeProperties(values, keys, readConfig(configPath, sparkSettings), configPath);
        }
        for (Map.Entry<String, List<Value>> entry : commandLine.entrySet()) {
            String key = entry.getKey();
            keys.checkKnown(key, COMMAND_LINE);
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
                throw new UsageException("job " + job.name() + " needs --" + option.key() + ": "
                        + option.description().replace('\n', ' '));
            }
        }
        return new JobSettings(keys, values);
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
     * with a repeated {@code --key value}). Keys are checked as the command line's are.
     */
    public static JobSettings of(String jobName, Map<String, String> entries) {
        return of(jobName, entries, "code");
    }

    /** As {@link #of(String, Map)}, with the values' origin (e.g. a run's recorded config file) for messages. */
    public static JobSettings of(String jobName, Map<String, String> entries, String origin) {
        Keys keys = Keys.named(jobName);
        Map<String, Value> values = new LinkedHashMap<>();
        entries.forEach((k, v) -> {
            keys.checkKnown(k, origin);
            values.put(k, Value.text(v, origin));
        });
        return new JobSettings(keys, values);
    }

    /** A copy with some keys replaced. */
    public JobSettings with(Map<String, String> overrides) {
        Map<String, Value> copy = new LinkedHashMap<>(values);
        overrides.forEach((k, v) -> {
            keys.checkKnown(k, "code");
            copy.put(k, Value.text(v, "code"));
        });
        return new JobSettings(keys, copy);
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

    private static Properties readConfig(String location, Map<String, String> sparkSettings) {
        try {
            Path path = new Path(location);
            FileSystem fs = path.getFileSystem(JobHadoop.configuration(sparkSettings));
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

    private static void mergeProperties(Map<String, Value> values, Keys keys, Properties props, String origin) {
        for (String key : new TreeMap<>(props).keySet().stream().map(Object::toString).toList()) {
            keys.checkKnown(key, origin);
            values.put(key, Value.text(props.getProperty(key).strip(), origin));
        }
    }

    /** The value of a key the job reads; a key its conf file does not declare is a bug in the job. */
    private Value value(String key) {
        if (!keys.accepts(key)) {
            throw new IllegalStateException("job " + keys.jobName() + " reads option '" + key + "', which conf/"
                    + keys.jobName() + ".properties does not declare: add it there with its default and description");
        }
        return values.get(key);
    }

    public String jobName() {
        return keys.jobName();
    }

    public boolean has(String key) {
        Value v = value(key);
        return v != null && !v.text().isBlank();
    }

    public Optional<String> find(String key) {
        return has(key) ? Optional.of(values.get(key).text()) : Optional.empty();
    }

    public String string(String key) {
        Value v = value(key);
        if (v == null || v.text().isBlank()) {
            throw new UsageException("job " + jobName() + " needs a value for '" + key + "' (give --" + key + " VALUE)");
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
        Value v = value(key);
        if (!condition) {
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

    /** The values of the job's {@link Job#overrideKeys()} that are set (for a model job: the model config overrides). */
    public Map<String, String> overrides() {
        Map<String, String> set = new TreeMap<>();
        values.forEach((k, v) -> {
            if (keys.overrides().contains(k) && !v.text().isBlank()) {
                set.put(k, v.text());
            }
        });
        return set;
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

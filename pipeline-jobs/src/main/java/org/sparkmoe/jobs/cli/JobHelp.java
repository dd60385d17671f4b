package org.sparkmoe.jobs.cli;

import java.util.Map;
import java.util.TreeSet;

/**
 * Renders {@code sparkmoe JOB --help}: every option of the job's conf file, its description (the comment above the
 * key) and its default (the key's value there).
 */
final class JobHelp {

    private JobHelp() {}

    static String render(Job job) {
        Map<String, String> defaults = JobSettings.defaults(job).asMap();
        StringBuilder out = new StringBuilder();
        out.append("usage: sparkmoe ").append(job.name())
                .append(" [--config FILE] [--set key=value]... [--key value]...\n\n")
                .append(job.summary()).append("\n\n")
                .append("Defaults come from conf/").append(job.defaultsResource())
                .append("; --config FILE overrides them, --set and --key value override both.\n")
                .append("A list value in a file or --set is comma-separated; each --key VALUE of a (repeatable) option")
                .append(" is one item, commas included (a glob like 'dir/{a,b}.jsonl' stays whole).\n\noptions:\n");
        for (JobOption option : job.options()) {
            String value = defaults.get(option.key());
            out.append("  --").append(option.key());
            if (option.required()) {
                out.append(" (required)");
            }
            if (option.flag()) {
                out.append(" (switch: alone means true)");
            }
            if (option.repeatable()) {
                out.append(" (repeatable)");
            }
            out.append("\n      ").append(option.description().replace("\n", "\n      "));
            if (value != null && !value.isEmpty()) {
                out.append("\n      default: ").append(value);
            }
            out.append('\n');
        }
        if (!job.overrideKeys().isEmpty()) {
            out.append("  --KEY VALUE, --set KEY=VALUE for a model config key\n      overrides the preset's value: ")
                    .append(String.join(", ", new TreeSet<>(job.overrideKeys()))).append('\n');
        }
        out.append("  --spark.*\n      any Spark setting, passed to the SparkConf (for example --spark.master local[2])\n");
        return out.toString();
    }
}

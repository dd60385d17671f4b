package org.sparkmoe.jobs.cli;

import java.util.List;

/**
 * One command of the {@code sparkmoe} launcher ({@code prepare}, {@code tokenize}, {@code train}, ...).
 *
 * <p>Jobs are found with {@link java.util.ServiceLoader}: a new job is a class implementing this interface plus a
 * line in {@code META-INF/services/org.sparkmoe.jobs.cli.Job}. Its defaults live in {@code conf/<name>.properties},
 * the one place a default is written; {@link #options()} documents each key and is what {@code --help} prints.
 *
 * <p>Lifecycle: the launcher resolves the settings (defaults, then {@code --config}, then {@code --set} and
 * {@code --key value}), refuses unknown keys, and calls {@link #run(JobSettings)} once.
 */
public interface Job {

    /** The command name, e.g. {@code prepare}. */
    String name();

    /** One line for {@code sparkmoe help}. */
    String summary();

    /** Every key this job reads, with its meaning. Keys under {@code spark.} are always accepted as well. */
    List<JobOption> options();

    /** Runs the job; returns the process exit code (0 on success). Throw {@link UsageException} for bad input. */
    int run(JobSettings settings) throws Exception;

    /**
     * The option that a bare argument sets, as in {@code sparkmoe inspect PATH}; empty when the job takes none.
     * The option must be declared in {@link #options()}.
     */
    default java.util.Optional<String> positionalOption() {
        return java.util.Optional.empty();
    }

    /** The bundled defaults file for this job, {@code conf/<name>.properties}. */
    default String defaultsResource() {
        return name() + ".properties";
    }
}

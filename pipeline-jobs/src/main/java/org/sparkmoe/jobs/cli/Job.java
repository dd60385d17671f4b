package org.sparkmoe.jobs.cli;

import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One command of the {@code sparkmoe} launcher ({@code prepare}, {@code tokenize}, {@code train}, ...).
 *
 * <p>Jobs are found with {@link java.util.ServiceLoader}: a new job is a class implementing this interface, a line
 * in {@code META-INF/services/org.sparkmoe.jobs.cli.Job}, and its {@code conf/<name>.properties}: every key the job
 * reads, with its default and, in the comment right above it, its description ({@link JobConfFile}). That file is
 * the one place an option is written; {@link #options()} and {@code --help} read it, and reading a key it does not
 * declare is a bug that {@link JobSettings} refuses.
 *
 * <p>Lifecycle: the launcher resolves the settings (defaults, then {@code --config}, then {@code --set} and
 * {@code --key value}), refuses unknown keys, and calls {@link #run(JobSettings)} once.
 */
public interface Job {

    /** The command name, e.g. {@code prepare}. */
    String name();

    /** One line for {@code sparkmoe help}. */
    String summary();

    /** Runs the job; returns the process exit code (0 on success). Throw {@link UsageException} for bad input. */
    int run(JobSettings settings) throws Exception;

    /**
     * The option that a bare argument sets, as in {@code sparkmoe inspect PATH}; empty when the job takes none.
     * The option must be declared in the job's conf file.
     */
    default Optional<String> positionalOption() {
        return Optional.empty();
    }

    /**
     * Keys accepted besides the conf file's and {@code spark.*}, with no default and no description of their own:
     * for jobs that build a model, the model config keys ({@code num_hidden_layers}, ...) that override the chosen
     * preset. The option that takes the preset describes them.
     */
    default Set<String> overrideKeys() {
        return Set.of();
    }

    /** The bundled defaults file for this job, {@code conf/<name>.properties}. */
    default String defaultsResource() {
        return name() + ".properties";
    }

    /** Every option of this job, from its conf file; keys under {@code spark.} are always accepted as well. */
    default List<JobOption> options() {
        return JobConfFile.of(this).options();
    }
}

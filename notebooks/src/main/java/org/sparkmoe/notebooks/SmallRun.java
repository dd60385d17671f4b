package org.sparkmoe.notebooks;

import java.io.IOException;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.SparkMoeMain;

/**
 * A small training run the notebooks produce themselves, through the real {@code train} and {@code evaluate} jobs:
 * the {@code tiny} MoE preset on a {@link ByteLevelDataset}, a few rounds on local Spark. Kept small so CI can
 * execute the notebooks on two cores; the settings are the notebook's to change.
 *
 * @param runs        where run directories go (any Hadoop URI)
 * @param runId       the run's id
 * @param manifest    the dataset manifest
 * @param outer       {@code diloco} or {@code average}
 * @param workers     Spark tasks training in parallel
 * @param rounds      averaging rounds
 * @param localSteps  local steps per round
 */
public record SmallRun(String runs, String runId, String manifest, String outer, int workers, int rounds,
                       int localSteps) {

    /** The run directory. */
    public String directory() {
        return (runs.endsWith("/") ? runs : runs + "/") + runId;
    }

    /** Trains (unless a finished run is there) and evaluates (unless done); returns the run directory. */
    public String ensure() throws IOException {
        Path runDir = new Path(directory());
        FileSystem fs = runDir.getFileSystem(new Configuration());
        if (!fs.exists(new Path(runDir, "final/parameters.f32"))) {
            // A run that stopped half-way is started again: it is small, and a fresh run needs no --resume rules.
            fs.delete(runDir, true);
            run(List.of("train", "--manifest", manifest, "--runs", runs, "--run-id", runId, "--model", "tiny",
                    "--workers", String.valueOf(workers), "--local-steps", String.valueOf(localSteps),
                    "--rounds", String.valueOf(rounds), "--batch-size", "4", "--seq-len", "32",
                    "--outer-optimizer", outer, "--checkpoint-every", String.valueOf(rounds), "--engine.lr", "1e-2",
                    "--engine.warmup-steps", "2", "--engine.micro-batch", "2"));
        }
        if (!fs.exists(new Path(runDir, "evaluation/evaluation.json"))) {
            run(List.of("evaluate", "--run", directory(), "--sequences", "16", "--batch-size", "4"));
        }
        return directory();
    }

    private static void run(List<String> args) {
        int status = SparkMoeMain.run(args.toArray(String[]::new));
        if (status != 0) {
            throw new IllegalStateException("sparkmoe " + String.join(" ", args) + " ended with status " + status
                    + "; its log above says why");
        }
    }
}

package org.sparkmoe.notebooks;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.cli.SparkMoeMain;

/** Runs the real {@code prepare} job for a notebook, once: an output that already has its report is reused. */
public final class Prepared {

    private Prepared() {}

    /** Prepares {@code inputs} (URIs or globs) into {@code output} unless it is already there; returns it. */
    public static String ensure(String output, String... inputs) throws IOException {
        Path report = new Path(output, "report.json");
        if (report.getFileSystem(new Configuration()).exists(report)) {
            return output;
        }
        List<String> args = new ArrayList<>(List.of("prepare", "--output", output));
        for (String input : inputs) {
            args.addAll(List.of("--input", input));
        }
        int status = SparkMoeMain.run(args.toArray(String[]::new));
        if (status != 0) {
            throw new IllegalStateException("sparkmoe " + String.join(" ", args) + " ended with status " + status);
        }
        return output;
    }
}

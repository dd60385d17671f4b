package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.nio.file.Files;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;

/**
 * The run's {@code final/}: the trained parameter vector ({@code parameters.f32}) and, beside it, the model in the
 * engine's own format ({@link LocalTrainerFactory#exportModel}), written locally and copied in. The driver writes it
 * with {@code sync=driver}; rank 0 of the last round otherwise (it holds the vector, the driver does not).
 */
final class FinalModel {

    private FinalModel() {}

    static void write(RunDirectory run, LocalTrainerFactory engine, float[] params_P) throws IOException {
        FileSystem fs = run.fileSystem();
        VectorFiles.write(fs, run.finalParameters(), params_P);
        java.nio.file.Path local = Files.createTempDirectory("sparkmoe-final");
        try {
            engine.exportModel(params_P, local);
            try (var files = Files.list(local)) {
                for (java.nio.file.Path file : files.toList()) {
                    fs.copyFromLocalFile(true, true, new Path(file.toUri()),
                            new Path(run.finalParameters().getParent(), file.getFileName().toString()));
                }
            }
        } finally {
            FileUtil.fullyDelete(local.toFile());
        }
    }
}

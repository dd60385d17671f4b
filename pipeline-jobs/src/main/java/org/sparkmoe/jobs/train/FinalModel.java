package org.sparkmoe.jobs.train;

import java.io.IOException;
import org.apache.hadoop.fs.FileSystem;
import org.sparkmoe.jobs.io.HadoopCheckpointFiles;

/**
 * The run's {@code final/}: the trained parameter vector ({@code parameters.f32}) and, beside it, the model in the
 * engine's own format ({@link LocalTrainerFactory#exportModel}), streamed into the run's filesystem. The driver writes
 * it with {@code sync=driver}; rank 0 of the last round otherwise (it holds the vector, the driver does not).
 */
final class FinalModel {

    private FinalModel() {}

    static void write(RunDirectory run, LocalTrainerFactory engine, float[] params_P) throws IOException {
        FileSystem fs = run.fileSystem();
        VectorFiles.write(fs, run.finalParameters(), params_P);
        engine.exportModel(params_P, new HadoopCheckpointFiles(fs, run.finalParameters().getParent()));
    }
}

package org.sparkmoe.notebooks;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a notebook finds the repository, the shared test data and its own working directory.
 *
 * <p>Local by default: {@code <repo>/runs/notebooks}. Set {@code SPARKMOE_NOTEBOOK_DATA} to any Hadoop URI (for
 * example {@code hdfs://namenode:8020/user/me/sparkmoe}) to read and write there instead. The repository is found
 * from {@code SPARKMOE_REPO} or by walking up from the working directory (Jupyter starts kernels in the notebook's
 * folder) to the folder that holds {@code conf/jvm.properties}.
 */
public record Workspace(Path repo, Path shared, String data) {

    public static Workspace fromEnvironment() {
        Path repo = findRepo();
        Path shared = repo.resolve("..").resolve("shared").normalize();
        String data = System.getenv("SPARKMOE_NOTEBOOK_DATA");
        if (data == null || data.isBlank()) {
            data = repo.resolve("runs").resolve("notebooks").toUri().toString();
        }
        return new Workspace(repo, shared, data.endsWith("/") ? data.substring(0, data.length() - 1) : data);
    }

    /** A location under the data directory, as a URI string any Hadoop filesystem client accepts. */
    public String data(String child) {
        return data + "/" + child;
    }

    /** The shared corpus's training files, as a glob. */
    public String trainCorpusGlob() {
        return shared.resolve("corpus").resolve("train").toUri() + "*.jsonl";
    }

    /** One file of the shared training corpus, e.g. {@code en_wikitext.jsonl}, as a URI. */
    public String trainFile(String name) {
        return shared.resolve("corpus").resolve("train").resolve(name).toUri().toString();
    }

    /** One file of the shared validation corpus, e.g. {@code en.jsonl}, as a URI. */
    public String validationFile(String name) {
        return shared.resolve("corpus").resolve("validation").resolve(name).toUri().toString();
    }

    private static Path findRepo() {
        String configured = System.getenv("SPARKMOE_REPO");
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured).toAbsolutePath().normalize();
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("conf").resolve("jvm.properties"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find the SparkMoE repository above " + Path.of("").toAbsolutePath()
                + ": start Jupyter inside the repository or set SPARKMOE_REPO");
    }
}

package org.sparkmoe.jobs.refresh;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.sparkmoe.jobs.io.AtomicPublish;

/**
 * A version whose documents, index and token shards are completely written but whose manifest is not yet
 * published ({@code _refresh/pending/vNNNNN.json}, written last). A refresh that dies after writing it is completed by the
 * next one without redoing the work, provided the inputs have not changed again meanwhile.
 *
 * @param version the version being built
 * @param changed the input files it folds in
 * @param documents the prepared-document files it adds (its token shards are in {@code versions/vNNNNN/})
 * @param added     its counts (input documents, kept, dropped per reason, tokens)
 */
public record PendingVersion(int version, List<InputFingerprint> changed,
                             List<DatasetVersion.DocumentFile> documents, Map<String, Long> added) {

    private static final ObjectMapper JSON = new ObjectMapper();

    static Path file(Path refreshDir, int version) {
        return new Path(refreshDir, "pending/" + DatasetVersions.name(version) + ".json");
    }

    static Optional<PendingVersion> read(FileSystem fs, Path refreshDir, int version) throws IOException {
        Path file = file(refreshDir, version);
        if (!fs.exists(file)) {
            return Optional.empty();
        }
        try (InputStream in = fs.open(file)) {
            return Optional.of(JSON.readValue(in, PendingVersion.class));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return Optional.empty();
        }
    }

    void write(FileSystem fs, Path refreshDir) throws IOException {
        AtomicPublish.writeFile(fs, file(refreshDir, version), out -> out.write(JSON.writeValueAsBytes(this)));
    }
}

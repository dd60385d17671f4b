package org.sparkmoe.model.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A set of tensors stored as Hugging Face stores large models: one {@code PREFIX.safetensors} when they fit one
 * shard, else {@code PREFIX-00001-of-0000N.safetensors} shards plus {@code PREFIX.safetensors.index.json}
 * ({@code metadata.total_size}, the tensors' bytes, and {@code weight_map}, tensor name → shard file). Shards are
 * filled in order up to the shard size (a tensor larger than it gets a shard of its own), as
 * {@code save_pretrained(max_shard_size=...)} does. Reading follows the index when there is one, so checkpoints
 * sharded by other tools load too.
 */
final class SafetensorsShards {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** One shard file and its header. */
    record Shard(String file, Safetensors.Header header) {
    }

    /**
     * The shards of a tensor set, the metadata of its index (or of its single file), and where it is (the index or the
     * single file, for messages).
     */
    record Layout(List<Shard> shards, Map<String, String> metadata, String where) {
        /** Every tensor with the shard that holds it. */
        Map<String, Safetensors.Entry> entries() {
            Map<String, Safetensors.Entry> all = new LinkedHashMap<>();
            shards.forEach(s -> all.putAll(s.header().entries()));
            return all;
        }
    }

    private SafetensorsShards() {
    }

    static String single(String prefix) {
        return prefix + ".safetensors";
    }

    static String index(String prefix) {
        return prefix + ".safetensors.index.json";
    }

    static String shard(String prefix, int number, int count) {
        return String.format(Locale.ROOT, "%s-%05d-of-%05d.safetensors", prefix, number, count);
    }

    /** Whether a tensor set called {@code prefix} exists in {@code files} (single file or index). */
    static boolean exists(CheckpointFiles files, String prefix) throws IOException {
        return files.exists(index(prefix)) || files.exists(single(prefix));
    }

    /** Writes {@code tensors} in order, in shards of at most {@code maxShardBytes} of data each. */
    static void write(CheckpointFiles files, String prefix, List<Safetensors.Tensor> tensors, Safetensors.Dtype dtype,
                      Map<String, String> metadata, long maxShardBytes) throws IOException {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("shard size " + maxShardBytes + " bytes must be > 0");
        }
        List<List<Safetensors.Tensor>> shards = new ArrayList<>();
        long filled = 0;
        for (Safetensors.Tensor t : tensors) {
            long bytes = t.elements() * dtype.bytes();
            if (shards.isEmpty() || filled > 0 && filled + bytes > maxShardBytes) {
                shards.add(new ArrayList<>());
                filled = 0;
            }
            shards.getLast().add(t);
            filled += bytes;
        }
        if (shards.size() <= 1) {
            // An index left by an earlier sharded save would take precedence when loading.
            files.delete(index(prefix));
            try (OutputStream out = files.create(single(prefix))) {
                Safetensors.write(out, tensors, dtype, metadata);
            }
            return;
        }
        files.delete(single(prefix));
        ObjectNode index = JSON.createObjectNode();
        ObjectNode meta = index.putObject("metadata");
        meta.put("total_size", Safetensors.dataBytes(tensors, dtype));
        metadata.forEach(meta::put);
        ObjectNode weightMap = index.putObject("weight_map");
        for (int s = 0; s < shards.size(); s++) {
            String file = shard(prefix, s + 1, shards.size());
            try (OutputStream out = files.create(file)) {
                Safetensors.write(out, shards.get(s), dtype, metadata);
            }
            shards.get(s).forEach(t -> weightMap.put(t.name(), file));
        }
        try (OutputStream out = files.create(index(prefix))) {
            out.write(JSON.writeValueAsBytes(index));
        }
    }

    /**
     * Reads the index (or single file) of {@code prefix} and every shard's header, refusing, by name, a shard that is
     * missing, shorter than its header says, or without a tensor the index puts in it.
     */
    static Layout layout(CheckpointFiles files, String prefix) throws IOException {
        if (!files.exists(index(prefix))) {
            String file = single(prefix);
            Shard shard = shard(files, file);
            return new Layout(List.of(shard), shard.header().metadata(), files.describe(file));
        }
        JsonNode index;
        try (InputStream in = files.open(index(prefix))) {
            index = JSON.readTree(in);
        }
        JsonNode weightMap = index.path("weight_map");
        if (!weightMap.isObject() || weightMap.isEmpty()) {
            throw new IOException(files.describe(index(prefix)) + " has no weight_map: not a safetensors index");
        }
        Map<String, List<String>> namesByFile = new LinkedHashMap<>();
        weightMap.fields().forEachRemaining(f -> namesByFile.computeIfAbsent(f.getValue().asText(),
                k -> new ArrayList<>()).add(f.getKey()));
        List<Shard> shards = new ArrayList<>();
        long total = 0;
        for (Map.Entry<String, List<String>> e : namesByFile.entrySet()) {
            if (!files.exists(e.getKey())) {
                throw new IOException("checkpoint shard " + files.describe(e.getKey()) + " listed in "
                        + files.describe(index(prefix)) + " is missing");
            }
            Shard shard = shard(files, e.getKey());
            for (String name : e.getValue()) {
                if (!shard.header().entries().containsKey(name)) {
                    throw new IOException("checkpoint shard " + files.describe(e.getKey()) + " does not hold tensor "
                            + name + " that " + files.describe(index(prefix)) + " puts there");
                }
            }
            Map<String, Safetensors.Entry> listed = new LinkedHashMap<>(shard.header().entries());
            listed.keySet().retainAll(e.getValue());
            shards.add(new Shard(shard.file(), new Safetensors.Header(listed, shard.header().metadata(),
                    shard.header().dataStart())));
            total += listed.values().stream().mapToLong(x -> x.end() - x.begin()).sum();
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        index.path("metadata").fields().forEachRemaining(f -> metadata.put(f.getKey(), f.getValue().asText()));
        if (metadata.containsKey("total_size") && Long.parseLong(metadata.get("total_size")) != total) {
            throw new IOException(files.describe(index(prefix)) + " says total_size " + metadata.get("total_size")
                    + " but its shards' tensors take " + total + " bytes");
        }
        return new Layout(shards, metadata, files.describe(index(prefix)));
    }

    private static Shard shard(CheckpointFiles files, String file) throws IOException {
        Safetensors.Header header;
        try (InputStream in = files.open(file)) {
            header = Safetensors.readHeader(in, "checkpoint shard " + files.describe(file));
        }
        long needed = header.dataStart() + header.dataBytes();
        long size = files.size(file);
        if (size < needed) {
            throw new IOException("checkpoint shard " + files.describe(file) + " is truncated: " + size
                    + " bytes where its header describes " + needed);
        }
        return new Shard(file, header);
    }

    /** Streams every tensor of {@code layout}, shard by shard, to {@code sink}. */
    static void read(CheckpointFiles files, Layout layout, Safetensors.TensorSink sink) throws IOException {
        for (Shard shard : layout.shards()) {
            try (InputStream in = files.open(shard.file())) {
                in.skipNBytes(shard.header().dataStart());
                Safetensors.readTensors(in, shard.header(), "checkpoint shard " + files.describe(shard.file()), sink);
            }
        }
    }
}

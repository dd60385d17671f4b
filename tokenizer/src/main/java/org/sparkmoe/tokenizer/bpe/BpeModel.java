package org.sparkmoe.tokenizer.bpe;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A byte-level BPE model: the vocabulary (token strings in {@link ByteLevelAlphabet} spelling, by id) and the
 * ordered merge list. Immutable and thread-safe.
 *
 * <p>Invariants checked at construction (violations throw {@link IllegalArgumentException} with the offending
 * entry): ids are unique and non-negative; each of the 256 byte characters has a token; both sides of every merge
 * and their concatenation are in the vocabulary.
 */
public final class BpeModel {

    /** One merge rule: {@code left + right -> merged}, as token ids. */
    public record Merge(int left, int right, int merged) {}

    private final String[] tokens;
    private final byte[][] tokenBytes;
    private final Map<String, Integer> ids;
    private final int[] byteToId = new int[256];
    private final List<Merge> merges;
    private final MergeTable mergeTable;
    private final boolean ignoreMerges;

    /**
     * @param vocab        token string (byte-level spelling) to id
     * @param mergePairs   merges in rank order, each as the two token strings
     * @param ignoreMerges HF's {@code ignore_merges}: a piece that is itself a token is emitted whole
     */
    public BpeModel(Map<String, Integer> vocab, List<String[]> mergePairs, boolean ignoreMerges) {
        int maxId = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        tokens = new String[maxId + 1];
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            int id = e.getValue();
            if (id < 0) {
                throw new IllegalArgumentException("token '" + e.getKey() + "' has a negative id " + id);
            }
            if (tokens[id] != null) {
                throw new IllegalArgumentException("id " + id + " is given to both '" + tokens[id] + "' and '"
                        + e.getKey() + "'");
            }
            tokens[id] = e.getKey();
        }
        ids = Collections.unmodifiableMap(new HashMap<>(vocab));
        tokenBytes = new byte[tokens.length][];
        for (int id = 0; id < tokens.length; id++) {
            if (tokens[id] != null) {
                byte[] b = ByteLevelAlphabet.decode(tokens[id]);
                // A token outside the byte alphabet (a special token kept in the vocab) decodes as its UTF-8 text,
                // which is what HF's ByteLevel decoder falls back to.
                tokenBytes[id] = b != null ? b : tokens[id].getBytes(StandardCharsets.UTF_8);
            }
        }
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.valueOf(ByteLevelAlphabet.charOf(b)));
            if (id == null) {
                throw new IllegalArgumentException(String.format(
                        "the vocabulary has no token for byte 0x%02X ('%s'): a byte-level BPE needs all 256 bytes,"
                                + " or some text cannot be encoded", b, ByteLevelAlphabet.charOf(b)));
            }
            byteToId[b] = id;
        }
        Merge[] list = new Merge[mergePairs.size()];
        mergeTable = new MergeTable(list.length);
        for (int rank = 0; rank < list.length; rank++) {
            String[] pair = mergePairs.get(rank);
            Integer left = vocab.get(pair[0]);
            Integer right = vocab.get(pair[1]);
            Integer merged = vocab.get(pair[0] + pair[1]);
            if (left == null || right == null || merged == null) {
                String missing = left == null ? pair[0] : right == null ? pair[1] : pair[0] + pair[1];
                throw new IllegalArgumentException("merge #" + rank + " '" + pair[0] + " " + pair[1]
                        + "' uses '" + missing + "', which is not in the vocabulary");
            }
            list[rank] = new Merge(left, right, merged);
            mergeTable.put(left, right, rank, merged);
        }
        merges = List.of(list);
        this.ignoreMerges = ignoreMerges;
    }

    /** One more than the highest id. */
    public int size() {
        return tokens.length;
    }

    /** The byte-level token string of an id, or null when the id has none. */
    public String token(int id) {
        return id >= 0 && id < tokens.length ? tokens[id] : null;
    }

    /** The bytes an id stands for, or null when the id has no token. */
    public byte[] bytes(int id) {
        return id >= 0 && id < tokenBytes.length ? tokenBytes[id] : null;
    }

    public OptionalInt id(String token) {
        Integer id = ids.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public int idOfByte(int b) {
        return byteToId[b & 0xFF];
    }

    public List<Merge> merges() {
        return merges;
    }

    public boolean ignoreMerges() {
        return ignoreMerges;
    }

    /** The vocabulary as token string to id, in id order. */
    public Map<String, Integer> vocab() {
        Map<String, Integer> out = new java.util.LinkedHashMap<>();
        for (int id = 0; id < tokens.length; id++) {
            if (tokens[id] != null) {
                out.put(tokens[id], id);
            }
        }
        return out;
    }

    MergeTable mergeTable() {
        return mergeTable;
    }

    /** Id of the token spelled by these bytes, or -1; used for {@code ignore_merges}. */
    int idOfBytes(byte[] bytes, int length) {
        Integer id = ids.get(ByteLevelAlphabet.encode(Arrays.copyOf(bytes, length)));
        return id == null ? -1 : id;
    }
}

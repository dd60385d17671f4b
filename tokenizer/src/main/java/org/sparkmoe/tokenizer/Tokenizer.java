package org.sparkmoe.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.function.IntConsumer;
import org.sparkmoe.tokenizer.bpe.BpeEncoder;
import org.sparkmoe.tokenizer.bpe.BpeModel;
import org.sparkmoe.tokenizer.bpe.IntList;
import org.sparkmoe.tokenizer.hf.TokenizerDefinition;
import org.sparkmoe.tokenizer.hf.TokenizerFormatException;
import org.sparkmoe.tokenizer.hf.TokenizerJsonReader;
import org.sparkmoe.tokenizer.hf.TokenizerJsonWriter;
import org.sparkmoe.tokenizer.pretokenize.LoneSurrogates;
import org.sparkmoe.tokenizer.pretokenize.Pieces;
import org.sparkmoe.tokenizer.pretokenize.PreTokenizer;
import org.sparkmoe.tokenizer.pretokenize.Sequence;
import org.sparkmoe.tokenizer.pretokenize.Split;
import org.sparkmoe.tokenizer.pretokenize.Scratch;

/**
 * A byte-level BPE tokenizer, compatible with HF {@code tokenizer.json}: the one class callers use.
 *
 * <p>Encoding: text → pre-tokenizer pieces → UTF-8 bytes of each piece → BPE merges → ids; with
 * {@code addSpecialTokens}, the post-processor's BOS/EOS ids around them (as HF's {@code encode} with
 * {@code add_special_tokens=true}). Added tokens (BOS, EOS, ...) appearing in the text are plain text unless the
 * caller asks for them to be matched ({@link #encode(String, boolean, boolean)}), so a document that happens to
 * contain {@code <｜end▁of▁sentence｜>} cannot end a sequence. Unpaired surrogates are replaced by U+FFFD before
 * anything else ({@link LoneSurrogates}), as HF sees them.
 *
 * <p>Thread-safe: immutable, with per-thread scratch buffers; encoding allocates only the result and new cache
 * entries. Build one per process and share it.
 */
public final class Tokenizer {

    private static final System.Logger LOG = System.getLogger(Tokenizer.class.getName());
    private static final int CACHE_CAPACITY = 200_000;

    private final TokenizerDefinition definition;
    private final BpeEncoder encoder;
    private final AddedTokenMatcher addedMatcher;
    private final Map<Integer, AddedToken> addedById = new HashMap<>();
    private final Map<String, AddedToken> addedByContent = new HashMap<>();
    private final int vocabSize;
    private final int[] prefix;
    private final int[] suffix;
    private final ThreadLocal<Workspace> workspaces;

    private final class Workspace {
        final Pieces pieces = new Pieces();
        final Scratch scratch = new Scratch();
        final BpeEncoder.Workspace bpe = encoder.newWorkspace();
        final IntList ids = new IntList(1024);
    }

    private Tokenizer(TokenizerDefinition definition) {
        this.definition = definition;
        BpeModel model = definition.model();
        this.encoder = new BpeEncoder(model, CACHE_CAPACITY);
        int size = model.size();
        for (AddedToken t : definition.addedTokens()) {
            if (addedById.put(t.id(), t) != null) {
                throw new TokenizerFormatException("added_tokens", "id " + t.id() + " is used twice");
            }
            addedByContent.put(t.content(), t);
            size = Math.max(size, t.id() + 1);
        }
        this.vocabSize = size;
        this.addedMatcher = new AddedTokenMatcher(definition.addedTokens());
        this.prefix = definition.postProcessor().prefix();
        this.suffix = definition.postProcessor().suffix();
        for (int id : concat(prefix, suffix)) {
            if (!addedById.containsKey(id) && model.token(id) == null) {
                throw new TokenizerFormatException("post_processor", "adds id " + id + ", which has no token");
            }
        }
        this.workspaces = ThreadLocal.withInitial(Workspace::new);
        LOG.log(System.Logger.Level.INFO, "tokenizer: {0} tokens, {1} merges, pre-tokenizer splits matched by {2}",
                vocabSize, model.merges().size(), matcherNames(definition.preTokenizer()));
    }

    /** Which matcher each Split uses, so a slow {@code java.util.regex} path is visible in the log. */
    private static List<String> matcherNames(PreTokenizer p) {
        List<String> out = new ArrayList<>();
        if (p instanceof Split s) {
            out.add(s.matcherName());
        } else if (p instanceof Sequence seq) {
            seq.steps().forEach(step -> out.addAll(matcherNames(step)));
        }
        return out;
    }

    /** A tokenizer from a validated definition (what the trainer and the JSON reader produce). */
    public static Tokenizer of(TokenizerDefinition definition) {
        return new Tokenizer(definition);
    }

    /**
     * Reads HF {@code tokenizer.json} text. Throws {@link TokenizerFormatException} (an
     * {@link IllegalArgumentException}) naming the JSON path of anything malformed or unsupported.
     */
    public static Tokenizer fromJson(String json) {
        return new Tokenizer(TokenizerJsonReader.read(json));
    }

    /** Reads a {@code tokenizer.json} file. */
    public static Tokenizer load(Path path) {
        try {
            return fromJson(Files.readString(path, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer file " + path + ": " + e.getMessage(), e);
        } catch (TokenizerFormatException e) {
            throw new TokenizerFormatException(e.jsonPath(), e.problem() + " (file " + path + ")", e);
        }
    }

    /** HF {@code tokenizer.json} text; equal tokenizers give identical text. */
    public String toJson() {
        return TokenizerJsonWriter.write(definition);
    }

    public TokenizerDefinition definition() {
        return definition;
    }

    /** The ids of {@code text}, without special tokens. */
    public int[] encode(String text) {
        return encode(text, false, false);
    }

    /** The ids of {@code text}; with {@code addSpecialTokens}, BOS/EOS as the post-processor adds them. */
    public int[] encode(String text, boolean addSpecialTokens) {
        return encode(text, addSpecialTokens, false);
    }

    /**
     * The ids of {@code text}. With {@code matchAddedTokens}, added tokens written in the text (such as
     * {@code <｜end▁of▁sentence｜>}) become their ids, leftmost-longest, as HF does; without, they are text.
     */
    public int[] encode(String text, boolean addSpecialTokens, boolean matchAddedTokens) {
        Workspace ws = workspaces.get();
        IntList ids = ws.ids;
        ids.clear();
        encodeInto(text, addSpecialTokens, matchAddedTokens, ws, ids);
        return ids.toArray();
    }

    /** Streams the ids of {@code text} to {@code sink} (for writers that pack tokens without an array per text). */
    public void encode(String text, boolean addSpecialTokens, IntConsumer sink) {
        Workspace ws = workspaces.get();
        IntList ids = ws.ids;
        ids.clear();
        encodeInto(text, addSpecialTokens, false, ws, ids);
        for (int i = 0; i < ids.size(); i++) {
            sink.accept(ids.get(i));
        }
    }

    /** Encodes many texts; element i is {@code encode(texts.get(i), addSpecialTokens)}. */
    public List<int[]> encodeBatch(List<String> texts, boolean addSpecialTokens) {
        List<int[]> out = new ArrayList<>(texts.size());
        for (String text : texts) {
            out.add(encode(text, addSpecialTokens));
        }
        return out;
    }

    private void encodeInto(String rawText, boolean addSpecialTokens, boolean matchAddedTokens, Workspace ws,
                            IntList ids) {
        String text = LoneSurrogates.replace(rawText);
        if (addSpecialTokens) {
            ids.addAll(prefix);
        }
        if (matchAddedTokens && !addedById.isEmpty()) {
            int segmentStart = 0;
            for (int i = 0; i < text.length(); ) {
                AddedToken t = addedMatcher.longestAt(text, i);
                if (t == null) {
                    i++;
                    continue;
                }
                encodeText(text, segmentStart, i, ws, ids);
                ids.add(t.id());
                i += t.content().length();
                segmentStart = i;
            }
            encodeText(text, segmentStart, text.length(), ws, ids);
        } else {
            encodeText(text, 0, text.length(), ws, ids);
        }
        if (addSpecialTokens) {
            ids.addAll(suffix);
        }
    }

    private void encodeText(String text, int start, int end, Workspace ws, IntList ids) {
        if (start >= end) {
            return;
        }
        Pieces pieces = ws.pieces;
        definition.preTokenizer().split(text, start, end, pieces, ws.scratch);
        for (int p = 0; p < pieces.size(); p++) {
            encoder.encodePiece(text, pieces.start(p), pieces.end(p), ws.bpe, ids);
        }
    }

    /** The text of {@code ids}, leaving out special tokens (HF's default {@code skip_special_tokens=true}). */
    public String decode(int[] ids) {
        return decode(ids, true);
    }

    /**
     * The text of {@code ids}. Byte sequences that are not valid UTF-8 (a slice cut inside a character) decode to
     * U+FFFD. An id without a token throws {@link IllegalArgumentException}.
     */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        byte[] buf = new byte[Math.max(16, ids.length * 4)];
        int n = 0;
        for (int id : ids) {
            byte[] bytes = tokenBytes(id, skipSpecialTokens);
            if (bytes == null) {
                continue;
            }
            if (n + bytes.length > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, n + bytes.length));
            }
            System.arraycopy(bytes, 0, buf, n, bytes.length);
            n += bytes.length;
        }
        return new String(buf, 0, n, StandardCharsets.UTF_8);
    }

    /**
     * The UTF-8 bytes {@code ids} stand for, special tokens left out: the length of {@link #decode(int[])}'s text
     * before decoding, so a slice cut inside a character counts its real bytes rather than U+FFFD's three (bits per
     * byte of token windows). An id without a token throws {@link IllegalArgumentException}.
     */
    public long byteCount(int[] ids) {
        long n = 0;
        for (int id : ids) {
            byte[] bytes = tokenBytes(id, true);
            n += bytes == null ? 0 : bytes.length;
        }
        return n;
    }

    /** A token's bytes; null for a special token left out. */
    private byte[] tokenBytes(int id, boolean skipSpecialTokens) {
        AddedToken added = addedById.get(id);
        if (added != null) {
            return added.special() && skipSpecialTokens ? null : added.content().getBytes(StandardCharsets.UTF_8);
        }
        byte[] bytes = definition.model().bytes(id);
        if (bytes == null) {
            throw new IllegalArgumentException("cannot decode id " + id + ": no token has it (vocabulary size "
                    + vocabSize + ")");
        }
        return bytes;
    }

    /** One more than the highest id of any token (model or added): the size an embedding table needs. */
    public int vocabSize() {
        return vocabSize;
    }

    /** The id of a token: an added token's content, or a model token in byte-level spelling ({@code Ġthe}). */
    public OptionalInt tokenId(String token) {
        AddedToken added = addedByContent.get(token);
        return added != null ? OptionalInt.of(added.id()) : definition.model().id(token);
    }

    /** The token of an id (added token content or byte-level spelling); throws for an id without a token. */
    public String idToken(int id) {
        AddedToken added = addedById.get(id);
        if (added != null) {
            return added.content();
        }
        String token = definition.model().token(id);
        if (token == null) {
            throw new IllegalArgumentException("id " + id + " has no token (vocabulary size " + vocabSize + ")");
        }
        return token;
    }

    /** The added tokens (BOS, EOS, PAD, user-defined), in the order of the file. */
    public List<AddedToken> addedTokens() {
        return definition.addedTokens();
    }

    /** What {@code addSpecialTokens} puts before the text. */
    public int[] specialPrefix() {
        return prefix.clone();
    }

    /** What {@code addSpecialTokens} puts after the text. */
    public int[] specialSuffix() {
        return suffix.clone();
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

package org.sparkmoe.tokenizer.train;

import com.fasterxml.jackson.databind.node.NullNode;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import org.sparkmoe.tokenizer.AddedToken;
import org.sparkmoe.tokenizer.Tokenizer;
import org.sparkmoe.tokenizer.bpe.BpeEncoder;
import org.sparkmoe.tokenizer.bpe.BpeModel;
import org.sparkmoe.tokenizer.bpe.ByteLevelAlphabet;
import org.sparkmoe.tokenizer.hf.PostProcessor;
import org.sparkmoe.tokenizer.hf.TokenizerDefinition;
import org.sparkmoe.tokenizer.hf.TokenizerJsonWriter;

/**
 * Learns byte-level BPE merges from pre-token counts, incrementally (the algorithm of HF's {@code BpeTrainer}).
 *
 * <p>Ids: the special tokens first (0..k-1), then the 256 bytes in byte order (k..k+255), then one id per new token
 * in merge order. Every pre-token is a "word": its UTF-8 bytes as symbols, with its count.
 *
 * <ol>
 *   <li>Count every adjacent symbol pair over all words (weighted by word count), and index pair → words that
 *       contain it.</li>
 *   <li>Put every pair in a priority queue ordered by count, descending; ties go to the smaller (left id, right id),
 *       so training is deterministic whatever the input order.</li>
 *   <li>Pop the best pair. Its queued count may be stale (counts only fall after a pair is queued): if it differs
 *       from the live count, re-queue it with the live count and pop again. Stop when the vocabulary is full or
 *       the best count is below {@code minFrequency}.</li>
 *   <li>Merge it in the words the index lists (skipping stale entries), updating the counts of the neighbouring
 *       pairs by the word's count: {@code (x,a)}, {@code (a,b)}, {@code (b,y)} fall; {@code (x,ab)}, {@code (ab,y)}
 *       rise and are queued and indexed.</li>
 * </ol>
 *
 * <p>Complexity, for W unique words of total length L symbols and P distinct pairs: building is O(L) time and
 * O(L + P) memory; each merge costs O(Σ|w| over the words containing the pair + c log P) for c changed pairs, never
 * a scan of all words. Memory grows with unique pre-tokens, not corpus size.
 */
public final class BpeTrainer {

    private static final Logger LOG = System.getLogger(BpeTrainer.class.getName());

    private record Candidate(long count, int left, int right) implements Comparable<Candidate> {
        @Override
        public int compareTo(Candidate o) {
            if (count != o.count) {
                return Long.compare(o.count, count);
            }
            if (left != o.left) {
                return Integer.compare(left, o.left);
            }
            return Integer.compare(right, o.right);
        }
    }

    private final TrainerConfig config;
    private final int[][] words;
    private final int[] wordLengths;
    private final long[] wordCounts;
    private final PairTable pairs;
    private final PriorityQueue<Candidate> queue = new PriorityQueue<>();
    private final List<byte[]> tokenBytes = new ArrayList<>();
    private final Map<String, Integer> tokenIds = new HashMap<>();
    private final List<int[]> merges = new ArrayList<>();

    private BpeTrainer(TrainerConfig config, Map<String, Long> preTokenCounts) {
        this.config = config;
        // Words keyed by their bytes: pieces that differ only in unpaired surrogates become the same word.
        Map<String, Long> byBytes = new HashMap<>();
        for (Map.Entry<String, Long> e : preTokenCounts.entrySet()) {
            String key = ByteLevelAlphabet.encode(BpeEncoder.utf8(e.getKey(), 0, e.getKey().length()));
            byBytes.merge(key, e.getValue(), Long::sum);
        }
        int n = byBytes.size();
        pairs = new PairTable(4 * n);
        words = new int[n][];
        wordLengths = new int[n];
        wordCounts = new long[n];
        int byteBase = config.specialTokens().size();
        int w = 0;
        for (Map.Entry<String, Long> e : byBytes.entrySet()) {
            String spelled = e.getKey();
            int[] symbols = new int[spelled.length()];
            for (int i = 0; i < symbols.length; i++) {
                symbols[i] = byteBase + ByteLevelAlphabet.byteOf(spelled.charAt(i));
            }
            words[w] = symbols;
            wordLengths[w] = symbols.length;
            wordCounts[w] = e.getValue();
            w++;
        }
    }

    /** Trains a tokenizer on pre-token counts (piece text → occurrences, as {@link PreTokenCounter} makes). */
    public static Tokenizer train(Map<String, Long> preTokenCounts, TrainerConfig config) {
        return new BpeTrainer(config, preTokenCounts).run();
    }

    private Tokenizer run() {
        long started = System.nanoTime();
        for (String special : config.specialTokens()) {
            tokenIds.put(special, tokenBytes.size());
            tokenBytes.add(null);
        }
        for (int b = 0; b < 256; b++) {
            tokenIds.put(String.valueOf(ByteLevelAlphabet.charOf(b)), tokenBytes.size());
            tokenBytes.add(new byte[] {(byte) b});
        }
        for (int w = 0; w < words.length; w++) {
            int[] s = words[w];
            for (int i = 0; i + 1 < wordLengths[w]; i++) {
                int pair = pairs.intern(s[i], s[i + 1]);
                pairs.addCount(pair, wordCounts[w]);
                pairs.addWord(pair, w);
            }
        }
        for (int pair = 0; pair < pairs.size(); pair++) {
            queue.add(new Candidate(pairs.count(pair), pairs.left(pair), pairs.right(pair)));
        }
        LOG.log(Level.INFO, "BPE training: {0} unique pre-tokens, {1} distinct pairs, target vocabulary {2}",
                words.length, pairs.size(), config.vocabSize());

        while (tokenBytes.size() < config.vocabSize() && !queue.isEmpty()) {
            Candidate top = queue.poll();
            int pair = pairs.find(top.left, top.right);
            long live = pairs.count(pair);
            if (live != top.count) {
                if (live > 0) {
                    queue.add(new Candidate(live, top.left, top.right));
                }
                continue;
            }
            if (live < config.minFrequency()) {
                break;
            }
            merge(top.left, top.right, pair);
        }
        LOG.log(Level.INFO, "BPE training: {0} merges, {1} tokens in {2} ms", merges.size(), tokenBytes.size(),
                (System.nanoTime() - started) / 1_000_000);
        return Tokenizer.of(definition());
    }

    private void merge(int a, int b, int mergedPair) {
        byte[] ab = concat(tokenBytes.get(a), tokenBytes.get(b));
        String spelled = ByteLevelAlphabet.encode(ab);
        Integer existing = tokenIds.get(spelled);
        int c;
        if (existing != null) {
            c = existing; // another pair already made these bytes: HF keeps one token and adds the merge anyway
        } else {
            c = tokenBytes.size();
            tokenBytes.add(ab);
            tokenIds.put(spelled, c);
        }
        merges.add(new int[] {a, b});
        IntSet risen = new IntSet();
        int[] affected = pairs.words(mergedPair);
        for (int w : affected) {
            int[] s = words[w];
            int len = wordLengths[w];
            long count = wordCounts[w];
            int out = 0;
            for (int i = 0; i < len; ) {
                if (i + 1 < len && s[i] == a && s[i + 1] == b) {
                    if (out > 0) {
                        int left = s[out - 1];
                        pairs.addCount(pairs.find(left, a), -count);
                        int up = pairs.intern(left, c);
                        pairs.addCount(up, count);
                        pairs.addWord(up, w);
                        risen.add(up);
                    }
                    if (i + 2 < len) {
                        int right = s[i + 2];
                        pairs.addCount(pairs.find(b, right), -count);
                        int up = pairs.intern(c, right);
                        pairs.addCount(up, count);
                        pairs.addWord(up, w);
                        risen.add(up);
                    }
                    pairs.addCount(mergedPair, -count);
                    s[out++] = c;
                    i += 2;
                } else {
                    s[out++] = s[i++];
                }
            }
            wordLengths[w] = out;
        }
        pairs.clearWords(mergedPair);
        for (int i = 0; i < risen.size(); i++) {
            int up = risen.get(i);
            if (pairs.count(up) > 0) {
                queue.add(new Candidate(pairs.count(up), pairs.left(up), pairs.right(up)));
            }
        }
    }

    private static byte[] concat(byte[] x, byte[] y) {
        byte[] out = Arrays.copyOf(x, x.length + y.length);
        System.arraycopy(y, 0, out, x.length, y.length);
        return out;
    }

    private TokenizerDefinition definition() {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        List<AddedToken> added = new ArrayList<>();
        for (int id = 0; id < config.specialTokens().size(); id++) {
            String content = config.specialTokens().get(id);
            vocab.put(content, id);
            added.add(new AddedToken(id, content, true, false));
        }
        for (int id = config.specialTokens().size(); id < tokenBytes.size(); id++) {
            vocab.put(ByteLevelAlphabet.encode(tokenBytes.get(id)), id);
        }
        List<String[]> mergeStrings = new ArrayList<>(merges.size());
        for (int[] m : merges) {
            mergeStrings.add(new String[] {ByteLevelAlphabet.encode(tokenBytes.get(m[0])),
                    ByteLevelAlphabet.encode(tokenBytes.get(m[1]))});
        }
        AddedToken bos = config.bosToken() == null ? null : added.get(config.specialTokens().indexOf(config.bosToken()));
        AddedToken eos = config.eosToken() == null ? null : added.get(config.specialTokens().indexOf(config.eosToken()));
        PostProcessor post = TokenizerJsonWriter.template(bos, eos);
        return new TokenizerDefinition(NullNode.getInstance(), config.preTokenizer(),
                new BpeModel(vocab, mergeStrings, false), added, post, TokenizerJsonWriter.byteLevelDecoder());
    }
}

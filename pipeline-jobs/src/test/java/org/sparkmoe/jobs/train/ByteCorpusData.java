package org.sparkmoe.jobs.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * Test-only training data until the shard reader is wired in: the UTF-8 bytes of a sample of the real corpus as
 * token ids, packed into sequences of {@code seqLenPlusOne}, shuffled per epoch from a seed and dealt to W workers
 * round-robin (no overlap, no gap within an epoch). An optional probe puts one {@link BigramTrainer} probe token into
 * one worker's sequence at one position of its split.
 */
record ByteCorpusData(String manifestUri, String tokenizerHash, int seqLenPlusOne, int[] tokens, long seed,
                      int probeWorker, long probePosition, int probeToken) implements TrainingData {

    /** The first {@code maxBytes} bytes of the JSON-lines corpus file (the raw lines: real text, real bytes). */
    static int[] corpusSample(Path jsonl, int maxBytes) throws IOException {
        byte[] bytes = Files.readAllBytes(jsonl);
        int n = Math.min(maxBytes, bytes.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = bytes[i] & 0xFF;
        }
        return out;
    }

    static ByteCorpusData of(String manifestUri, int seqLenPlusOne, int[] tokens) {
        return new ByteCorpusData(manifestUri, "bytes-v1", seqLenPlusOne, tokens, 7, -1, -1, 0);
    }

    ByteCorpusData withProbe(int worker, long position, int token) {
        return new ByteCorpusData(manifestUri, tokenizerHash, seqLenPlusOne, tokens, seed, worker, position, token);
    }

    ByteCorpusData withTokenizer(String hash) {
        return new ByteCorpusData(manifestUri, hash, seqLenPlusOne, tokens, seed, probeWorker, probePosition, probeToken);
    }

    static String manifestJson(int seqLenPlusOne) {
        return "{\"tokenizer_hash\":\"bytes-v1\",\"seq_len_plus_one\":" + seqLenPlusOne + "}";
    }

    static byte[] manifestBytes(int seqLenPlusOne) {
        return manifestJson(seqLenPlusOne).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public TokenStream open(int worker, int workers, long position) {
        int sequences = tokens.length / seqLenPlusOne;
        int perWorker = sequences / workers;
        return new TokenStream() {
            private long next = position;

            @Override
            public int[] next(int batch, int length) {
                int[] out = new int[batch * length];
                for (int b = 0; b < batch; b++, next++) {
                    int epoch = (int) (next / perWorker);
                    int slot = (int) (next % perWorker) * workers + worker;
                    int sequence = permutation(sequences, seed + epoch)[slot];
                    System.arraycopy(tokens, sequence * seqLenPlusOne, out, b * length, length);
                    if (worker == probeWorker && next == probePosition) {
                        out[b * length] = probeToken;
                    }
                }
                return out;
            }

            @Override
            public long position() {
                return next;
            }

            @Override
            public void close() {}
        };
    }

    private static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}

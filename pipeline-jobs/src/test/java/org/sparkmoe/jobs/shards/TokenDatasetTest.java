package org.sparkmoe.jobs.shards;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sparkmoe.jobs.cli.UsageException;
import org.sparkmoe.jobs.testing.MiniHdfs;

/** The reader against shards written by the real writer, on the local disk (mapped) and on MiniDFSCluster. */
class TokenDatasetTest {

    private static final int SEQ_LEN = 64;
    private static MiniHdfs hdfs;

    @TempDir
    java.nio.file.Path tmp;

    @BeforeAll
    static void start() throws Exception {
        hdfs = MiniHdfs.start();
    }

    @AfterAll
    static void stop() {
        hdfs.close();
    }

    private SyntheticDataset local(String name) throws IOException {
        FileSystem fs = FileSystem.getLocal(new Configuration());
        return SyntheticDataset.write(fs, new Path(tmp.resolve(name).toUri()), 3, 150, 2000, 42);
    }

    private String localManifest(String name) {
        return tmp.resolve(name).resolve(Manifest.FILE_NAME).toUri().toString();
    }

    @Test
    void everySequenceIsTheStreamWindowLocallyAndOnHdfs() throws Exception {
        SyntheticDataset expected = local("a");
        Path hdfsDir = new Path(hdfs.uri("/datasets/a"));
        SyntheticDataset same = SyntheticDataset.write(hdfs.fileSystem(), hdfsDir, 3, 150, 2000, 42);
        assertArrayEquals(expected.stream, same.stream);
        for (String uri : List.of(localManifest("a"), hdfs.uri("/datasets/a/manifest.json"))) {
            try (TokenDataset ds = TokenDataset.open(uri, Manifest.TRAIN, SEQ_LEN, new Configuration())) {
                assertEquals(expected.stream.length, ds.tokenCount());
                assertEquals((expected.stream.length - 1) / SEQ_LEN, ds.sequenceCount());
                int[] seq = new int[SEQ_LEN + 1];
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment off = arena.allocate(4L * (SEQ_LEN + 1));
                    for (long i = 0; i < ds.sequenceCount(); i++) {
                        ds.readSequence(i, seq, 0);
                        int from = (int) (i * SEQ_LEN);
                        assertArrayEquals(Arrays.copyOfRange(expected.stream, from, from + SEQ_LEN + 1), seq,
                                uri + " sequence " + i);
                        ds.readSequence(i, off, 0);
                        assertArrayEquals(seq, off.toArray(ValueLayout.JAVA_INT), "off-heap sequence " + i);
                    }
                }
            }
        }
    }

    @Test
    void documentStartsFollowTheEosTokens() throws Exception {
        SyntheticDataset expected = local("b");
        try (TokenDataset ds = TokenDataset.open(localManifest("b"), Manifest.TRAIN, SEQ_LEN, new Configuration())) {
            for (long i = 0; i < ds.sequenceCount(); i += 7) {
                int from = (int) (i * SEQ_LEN);
                Set<Integer> eosFollowers = new HashSet<>();
                if (from == 0 || expected.stream[from - 1] == SyntheticDataset.EOS) {
                    eosFollowers.add(0);
                }
                for (int t = 0; t < SEQ_LEN; t++) {
                    if (expected.stream[from + t] == SyntheticDataset.EOS) {
                        eosFollowers.add(t + 1);
                    }
                }
                Set<Integer> starts = new HashSet<>();
                for (int s : ds.documentStartsIn(i)) {
                    starts.add(s);
                }
                assertEquals(eosFollowers, starts, "sequence " + i);
            }
        }
    }

    @Test
    void arrowJavaReadsTheSameDocuments() throws Exception {
        SyntheticDataset expected = local("c");
        int doc = 0;
        for (ShardInfo shard : expected.manifest.split(Manifest.TRAIN).shards()) {
            try (SeekableByteChannel channel = Files.newByteChannel(tmp.resolve("c").resolve(shard.path()));
                 RootAllocator allocator = new RootAllocator();
                 ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
                VectorSchemaRoot root = reader.getVectorSchemaRoot();
                assertEquals(SyntheticDataset.TOKENIZER_SHA,
                        root.getSchema().getCustomMetadata().get(ShardSchema.META_TOKENIZER_SHA256));
                assertEquals(shard.recordBatches(), reader.getRecordBlocks().size());
                while (reader.loadNextBatch()) {
                    ListVector tokens = (ListVector) root.getVector(ShardSchema.TOKENS);
                    for (int row = 0; row < root.getRowCount(); row++) {
                        List<?> values = tokens.getObject(row);
                        int[] got = values.stream().mapToInt(v -> (Integer) v).toArray();
                        assertArrayEquals(expected.documents.get(doc++), got);
                    }
                }
            }
        }
        assertEquals(expected.documents.size(), doc);
    }

    @Test
    void threeWorkersCoverEverySequenceOncePerEpoch() throws Exception {
        SyntheticDataset data = local("d");
        int seqLen = SEQ_LEN;
        while ((data.stream.length - 1) / seqLen % 3 == 0) {
            seqLen++;  // a sequence count that 3 does not divide tests the remainder
        }
        try (TokenDataset ds = TokenDataset.open(localManifest("d"), Manifest.TRAIN, seqLen, new Configuration())) {
            int n = (int) ds.sequenceCount();
            assertNotEquals(0, n % 3);
            int[] seen = new int[n];
            long total = 0;
            for (int w = 0; w < 3; w++) {
                SequenceLoader loader = ds.loader(7, w, 3);
                for (long k = 0; k < loader.sequencesPerEpoch(); k++) {
                    seen[loader.nextIndex()]++;
                    total++;
                }
                assertEquals(0, loader.epoch());
                loader.nextIndex();
                assertEquals(1, loader.epoch(), "worker " + w + " rolls over into epoch 1");
            }
            assertEquals(n, total);
            for (int i = 0; i < n; i++) {
                assertEquals(1, seen[i], "sequence " + i + " seen " + seen[i] + " times");
            }
            int[] epoch0 = EpochOrder.permutation(n, 7, 0);
            assertArrayEquals(epoch0, EpochOrder.permutation(n, 7, 0), "deterministic");
            assertNotEquals(Arrays.toString(epoch0), Arrays.toString(EpochOrder.permutation(n, 7, 1)));
            int[] identity = new int[n];
            Arrays.setAll(identity, i -> i);
            assertNotEquals(Arrays.toString(identity), Arrays.toString(epoch0), "shuffled");
        }
    }

    @Test
    void resumeFromSavedStateContinuesOnTheNextSequence() throws Exception {
        local("e");
        try (TokenDataset ds = TokenDataset.open(localManifest("e"), Manifest.TRAIN, SEQ_LEN, new Configuration())) {
            SequenceLoader reference = ds.loader(3, 1, 2);
            long perEpoch = reference.sequencesPerEpoch();
            int[] batch = new int[5 * (SEQ_LEN + 1)];
            int steps = (int) (perEpoch / 5) + 3;  // crosses into epoch 1
            ReaderState saved = null;
            int[] expectedAfter = null;
            for (int step = 0; step < steps; step++) {
                if (step == steps - 2) {
                    saved = ReaderState.decode(reference.state().encode());
                }
                reference.nextBatch(batch, 5);
                if (step == steps - 2) {
                    expectedAfter = batch.clone();
                }
            }
            assertEquals(1, reference.epoch());
            SequenceLoader resumed = ds.resume(saved);
            int[] got = new int[batch.length];
            resumed.nextBatch(got, 5);
            assertArrayEquals(expectedAfter, got);
            resumed.nextBatch(got, 5);
            assertArrayEquals(batch, got);
            assertEquals(reference.state(), resumed.state());
            ds.requireTokenizer(SyntheticDataset.TOKENIZER_SHA);
            assertThrows(UsageException.class, () -> ds.requireTokenizer("cd".repeat(32)));
            ReaderState foreign = new ReaderState("other", Manifest.TRAIN, ds.tokenCount(), SEQ_LEN, 3, 2, 1, 0, 0);
            assertThrows(UsageException.class, () -> ds.resume(foreign));
        }
    }

    @Test
    void truncatedShardIsRefusedByName() throws Exception {
        local("f");
        java.nio.file.Path shard = tmp.resolve("f/train/shard-1.arrow");
        byte[] bytes = Files.readAllBytes(shard);
        Files.write(shard, Arrays.copyOf(bytes, bytes.length - 100));
        assertRefused("f", "shard-1.arrow", "truncated");
    }

    @Test
    void flippedByteIsRefusedByNameLocallyAndOnHdfs() throws Exception {
        local("g");
        java.nio.file.Path shard = tmp.resolve("g/train/shard-2.arrow");
        byte[] bytes = Files.readAllBytes(shard);
        bytes[bytes.length / 2] ^= 0x10;
        Files.write(shard, bytes);
        assertRefused("g", "shard-2.arrow", "SHA-256");

        FileSystem fs = hdfs.fileSystem();
        Path dir = new Path(hdfs.uri("/datasets/g"));
        SyntheticDataset.write(fs, dir, 3, 150, 2000, 42);
        Path hdfsShard = new Path(dir, "train/shard-0.arrow");
        byte[] content;
        try (InputStream in = fs.open(hdfsShard)) {
            content = in.readAllBytes();
        }
        content[content.length / 3] ^= 0x01;
        try (OutputStream out = fs.create(hdfsShard, true)) {
            out.write(content);
        }
        try (TokenDataset ds = TokenDataset.open(hdfs.uri("/datasets/g"), Manifest.TRAIN, SEQ_LEN,
                new Configuration())) {
            CorruptShardException e = assertThrows(CorruptShardException.class, () -> ds.readSequence(0, new int[SEQ_LEN + 1], 0));
            assertTrue(e.getMessage().contains("shard-0.arrow") && e.getMessage().contains("SHA-256"), e.getMessage());
        }
    }

    private void assertRefused(String name, String shardName, String reason) throws IOException {
        try (TokenDataset ds = TokenDataset.open(localManifest(name), Manifest.TRAIN, SEQ_LEN, new Configuration())) {
            int[] seq = new int[SEQ_LEN + 1];
            CorruptShardException e = assertThrows(CorruptShardException.class, () -> {
                for (long i = 0; i < ds.sequenceCount(); i++) {
                    ds.readSequence(i, seq, 0);
                }
            });
            assertTrue(e.getMessage().contains(shardName) && e.getMessage().contains(reason), e.getMessage());
        }
    }
}

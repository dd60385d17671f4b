package org.sparkmoe.model.decoder;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.moe.ExpertPlacement;

/**
 * One vector of an expert-parallel group (the parameters, AdamW's m or v) read as the whole model's tensors on rank 0,
 * tensor by tensor in canonical order ({@link ParameterLayout#of(ModelConfig)}), while the other ranks serve their
 * expert tensors: what a checkpoint of the whole model is written from, without any rank holding the whole vector.
 *
 * <p>A tensor rank 0 holds comes from its own tensor. The other ranks' experts travel in blocks: the E/D experts of
 * one projection of one layer that one rank holds (contiguous in its layout), one all-to-all per block in which only
 * the holder sends, received into rank 0's staging tensor and read back to the host. Every rank runs the blocks in the
 * same order: rank 0 as its reads reach them, the others in {@link #serve}.
 */
public final class WholeModelReader {

    /**
     * Rank {@code rank}'s block: elements {@code [localOffset, localOffset + elements)} of its vector, holding
     * {@code specs} (in its layout).
     */
    private record Block(int rank, long localOffset, long elements, List<ParameterSpec> specs) {
    }

    private final Backend backend;
    private final Collective collective;
    private final ParameterLayout mine;
    private final Tensor local_P;
    private final Tensor staging;
    private final List<Block> blocks;
    private final Map<String, Integer> blockOf = new HashMap<>();
    private final Map<String, ParameterSpec> theirs = new HashMap<>();
    private int next;
    private float[] held;
    private Block heldBlock;

    private WholeModelReader(Backend backend, Collective collective, ParameterLayout mine, Tensor local_P,
                             Tensor staging, List<Block> blocks) {
        this.backend = backend;
        this.collective = collective;
        this.mine = mine;
        this.local_P = local_P;
        this.staging = staging;
        this.blocks = blocks;
        for (int b = 0; b < blocks.size(); b++) {
            for (ParameterSpec s : blocks.get(b).specs()) {
                blockOf.put(s.name(), b);
                theirs.put(s.name(), s);
            }
        }
    }

    /**
     * The reader of {@code local_P} (this rank's vector, in {@code mine} = its layout), staging blocks in the expert
     * part of {@code staging_P} (a tensor of the same layout whose content may be overwritten).
     */
    static WholeModelReader of(Backend backend, Collective collective, ModelConfig config, ExpertPlacement placement,
                               ParameterLayout mine, Tensor local_P, Tensor staging_P) {
        List<List<Block>> byRank = new ArrayList<>();
        for (int r = 1; r < placement.ranks(); r++) {
            byRank.add(blocks(r, ParameterLayout.of(config, placement.ofRank(r)), placement.localExperts()));
        }
        // Canonical order: layer by layer, projection by projection, experts (so ranks) ascending.
        List<Block> blocks = new ArrayList<>();
        int perRank = byRank.isEmpty() ? 0 : byRank.getFirst().size();
        for (int run = 0; run < perRank; run++) {
            for (List<Block> rank : byRank) {
                blocks.add(rank.get(run));
            }
        }
        long p = mine.replicatedElements();
        Tensor stage = backend.view(staging_P, "expert staging", p, mine.totalElements() - p);
        return new WholeModelReader(backend, collective, mine, local_P, stage, blocks);
    }

    /** Rank {@code rank}'s blocks: its expert tensors (rank layout {@code layout}) in runs of {@code perRun}. */
    private static List<Block> blocks(int rank, ParameterLayout layout, int perRun) {
        List<ParameterSpec> experts = layout.specs().stream().filter(s -> s.offset() >= layout.replicatedElements())
                .toList();
        List<Block> out = new ArrayList<>();
        for (int i = 0; i < experts.size(); i += perRun) {
            List<ParameterSpec> run = experts.subList(i, i + perRun);
            out.add(new Block(rank, run.getFirst().offset(), run.stream().mapToLong(ParameterSpec::size).sum(), run));
        }
        return out;
    }

    /** Rank 0: fills {@code dst} with the whole model's tensor {@code spec}; call for every tensor, in order. */
    public void read(ParameterSpec spec, MemorySegment dst) {
        if (mine.contains(spec.name())) {
            backend.download(local_P, mine.get(spec.name()).offset(), dst, 0, spec.size());
            return;
        }
        Integer b = blockOf.get(spec.name());
        if (b == null) {
            throw new IllegalArgumentException("tensor " + spec.name() + " is neither this rank's nor another rank's"
                    + " expert");
        }
        if (heldBlock != blocks.get(b)) {
            if (b != next) {
                throw new IllegalStateException("tensor " + spec.name() + " read out of canonical order: the ranks"
                        + " send their expert blocks in that order");
            }
            transfer(blocks.get(next++));
        }
        long from = theirs.get(spec.name()).offset() - heldBlock.localOffset();
        MemorySegment.copy(held, (int) from, dst, ValueLayout.JAVA_FLOAT, 0, Math.toIntExact(spec.size()));
    }

    /** Rank 0, after the last read: fails unless every other rank's block was read (the ranks would wait). */
    public void finish() {
        if (next != blocks.size()) {
            throw new IllegalStateException((blocks.size() - next) + " expert blocks of the other ranks were not read");
        }
    }

    /** Every rank but 0: sends this rank's blocks to rank 0 and takes part in the others' transfers, in order. */
    public void serve() {
        while (next < blocks.size()) {
            transfer(blocks.get(next++));
        }
    }

    private void transfer(Block block) {
        int ranks = collective.size();
        long[] send = new long[ranks];
        long[] receive = new long[ranks];
        Tensor from = staging;
        if (collective.rank() == block.rank()) {
            send[0] = block.elements();
            from = backend.view(local_P, "expert block", block.localOffset(), block.elements());
        }
        if (collective.rank() == 0) {
            receive[block.rank()] = block.elements();
        }
        collective.allToAll(from, send, staging, receive);
        if (collective.rank() == 0) {
            int n = Math.toIntExact(block.elements());
            if (held == null || held.length < n) {
                held = new float[n];
            }
            backend.download(staging, 0, held, 0, n);
            heldBlock = block;
        }
    }
}

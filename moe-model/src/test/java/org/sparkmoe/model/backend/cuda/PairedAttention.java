package org.sparkmoe.model.backend.cuda;

import static org.sparkmoe.model.backend.cuda.Checks.gaussian;

import java.util.Random;
import org.sparkmoe.model.backend.cuda.BackendPair.Both;

/**
 * Attention forward and backward run on both backends of a pair from the same random q, k, v and dOut (unit normal,
 * drawn in that order), outputs NaN-poisoned on the GPU side first: out, lse, dq, dk, dv, to compare side by side.
 */
record PairedAttention(Both out, Both lse, Both dq, Both dk, Both dv) {

    static PairedAttention run(BackendPair pair, Random random, int batch, int seqLen, int heads, int headDim) {
        int n = batch * seqLen * heads * headDim;
        Both q = pair.input("q", gaussian(random, n, 1));
        Both k = pair.input("k", gaussian(random, n, 1));
        Both v = pair.input("v", gaussian(random, n, 1));
        Both dOut = pair.input("dOut", gaussian(random, n, 1));
        Both out = pair.output("out", n);
        Both lse = pair.output("lse", batch * heads * seqLen);
        Both dq = pair.output("dq", n);
        Both dk = pair.output("dk", n);
        Both dv = pair.output("dv", n);
        pair.run((be, s) -> {
            be.attentionForward(s.of(q), s.of(k), s.of(v), s.of(out), s.of(lse), batch, seqLen, heads, headDim);
            be.attentionBackward(s.of(dOut), s.of(q), s.of(k), s.of(v), s.of(out), s.of(lse), s.of(dq), s.of(dk),
                    s.of(dv), batch, seqLen, heads, headDim);
        });
        return new PairedAttention(out, lse, dq, dk, dv);
    }
}

package org.sparkmoe.model.comm;

/**
 * The messages the ranks all-gather while joining a collective, each {@code "<transport> <payload>"}: one check that
 * every rank speaks this rank's transport (a worker that fell back to another backend would otherwise hang its peers).
 */
public final class JoinMessages {

    private JoinMessages() {}

    /** {@code transport + " " + payload}, the message this rank contributes. */
    public static String of(String transport, String payload) {
        return transport + " " + payload;
    }

    /** The payloads of {@code all}, by rank; fails, naming the ranks and transports, when one is not {@code transport}'s. */
    public static String[] payloads(String[] all, String transport, int rank, int size) {
        if (all.length != size) {
            throw new IllegalStateException("joining a collective of " + size + " ranks, rank " + rank + " received "
                    + all.length + " messages: every rank must join the same collective");
        }
        String[] out = new String[size];
        for (int r = 0; r < size; r++) {
            if (!all[r].startsWith(transport + " ")) {
                String theirs = all[r].contains(" ") ? all[r].substring(0, all[r].indexOf(' ')) : all[r];
                throw new IllegalStateException("rank " + r + " joined the collective over '" + theirs + "' but rank "
                        + rank + " over '" + transport + "': every rank must run the same backend (CPU: tcp, CUDA:"
                        + " nccl); give every task a GPU, or set backend=cpu");
            }
            out[r] = all[r].substring(transport.length() + 1);
        }
        return out;
    }
}

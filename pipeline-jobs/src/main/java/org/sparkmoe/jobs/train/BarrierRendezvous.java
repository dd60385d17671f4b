package org.sparkmoe.jobs.train;

import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * How the tasks of a barrier stage meet: Spark's {@link BarrierTaskContext#allGather} (through the driver's barrier
 * coordinator) carries the collective's join messages, the executor's block-manager host is where peers reach this
 * task (the address Spark itself uses between executors), and a killed task is called off.
 *
 * <p>Each task's {@code note} (one line) travels with its join message and every rank's is kept ({@link #notes()}):
 * a Spark all-gather costs about a second (the task polls the coordinator's answer once a second), so a round makes
 * exactly one, the collective's join, and decides where to start from the notes after it; a stage of one task makes
 * none.
 */
final class BarrierRendezvous implements Rendezvous {

    private final BarrierTaskContext task;
    private final String note;
    private String[] notes;

    BarrierRendezvous(BarrierTaskContext task, String note) {
        if (note.contains("\n")) {
            throw new IllegalArgumentException("a rendezvous note is one line: " + note);
        }
        this.task = task;
        this.note = note;
    }

    @Override
    public String[] allGather(String message) {
        // A stage of one task has no one to meet: Spark's all-gather would only cost its second.
        String[] all = task.numPartitions() == 1 ? new String[] {note + "\n" + message}
                : task.allGather(note + "\n" + message);
        String[] messages = new String[all.length];
        notes = new String[all.length];
        for (int r = 0; r < all.length; r++) {
            int split = all[r].indexOf('\n');
            notes[r] = all[r].substring(0, split);
            messages[r] = all[r].substring(split + 1);
        }
        return messages;
    }

    /** Every rank's note, by rank; available once the collective has been joined. */
    String[] notes() {
        if (notes == null) {
            throw new IllegalStateException("no all-gather has run yet");
        }
        return notes;
    }

    @Override
    public String host() {
        return SparkEnv.get().blockManager().blockManagerId().host();
    }

    @Override
    public boolean cancelled() {
        return task.isInterrupted();
    }
}

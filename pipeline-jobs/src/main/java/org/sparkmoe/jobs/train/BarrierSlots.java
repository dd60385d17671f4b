package org.sparkmoe.jobs.train;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.BarrierJobAllocationFailed$;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Whether the cluster can run a barrier round at all: Spark starts a barrier stage only when all W tasks fit at the
 * same time, and when they never can it retries the job every 15 s for 10 minutes before failing it. This check
 * counts the cluster's task slots as Spark does ({@code SparkContext.maxNumConcurrentTasks}) and fails at once on a
 * local master (its slots never change); on a cluster it waits up to {@code slot-wait-seconds} for executors to
 * register (at start-up, or replacing a lost one) before failing with Spark's message and ours.
 */
final class BarrierSlots {

    private static final Logger LOG = LogManager.getLogger(BarrierSlots.class);

    private BarrierSlots() {}

    static void require(SparkContext sc, int workers, int waitSeconds, String sync) {
        int slots = slots(sc);
        long deadline = System.nanoTime() + waitSeconds * 1_000_000_000L;
        long nextNotice = 0;
        while (slots < workers && !sc.isLocal() && System.nanoTime() < deadline) {
            if (System.nanoTime() >= nextNotice) {
                LOG.info("sync={}: waiting for {} task slots for the barrier stage, the cluster offers {} (at most {} s)",
                        sync, workers, slots, waitSeconds);
                nextNotice = System.nanoTime() + 10_000_000_000L;
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            slots = slots(sc);
        }
        if (slots < workers) {
            throw new UsageException("sync=" + sync + " runs the " + workers + " workers of a round as one Spark barrier"
                    + " stage, which needs all " + workers + " tasks running at the same time, but " + sc.master()
                    + " offers " + slots + " task slot" + (slots == 1 ? "" : "s") + (sc.isLocal() ? "" : " after "
                    + waitSeconds + " s (slot-wait-seconds)") + ". Spark: " + BarrierJobAllocationFailed$.MODULE$
                    .ERROR_MESSAGE_BARRIER_REQUIRE_MORE_SLOTS_THAN_CURRENT_TOTAL_NUMBER() + " Give the stage " + workers
                    + " slots: local[N] with N >= " + workers + " x spark.task.cpus; on a cluster, executors x"
                    + " (spark.executor.cores / spark.task.cpus) and, with GPUs, executors x"
                    + " (spark.executor.resource.gpu.amount / spark.task.resource.gpu.amount) must reach " + workers
                    + "; or lower --workers, or use sync=driver (its tasks need not run at once)");
        }
    }

    /** Task slots of the default resource profile over the executors registered now (Spark's own count). */
    private static int slots(SparkContext sc) {
        return sc.maxNumConcurrentTasks(sc.resourceProfileManager().defaultResourceProfile());
    }
}

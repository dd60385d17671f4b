package org.sparkmoe.jobs.train;

import java.io.Serializable;
import java.util.Map;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;

/**
 * The device a worker trains on: the CUDA device Spark assigned to the task ({@code TaskContext.resources()},
 * resource name {@code gpu}), or the CPU when the task holds no GPU.
 *
 * @param kind    {@code cuda} or {@code cpu}
 * @param ordinal the CUDA device ordinal (from the discovery script's address); -1 for the CPU
 */
public record ComputeDevice(String kind, int ordinal) implements Serializable {

    private static final Logger LOG = LogManager.getLogger(ComputeDevice.class);

    public static final ComputeDevice CPU = new ComputeDevice("cpu", -1);

    public static ComputeDevice cuda(int ordinal) {
        return new ComputeDevice("cuda", ordinal);
    }

    public boolean isCuda() {
        return kind.equals("cuda");
    }

    /**
     * Binds the running task's device. {@code backend} is the job's {@code backend} setting: {@code auto} takes the
     * task's GPU when it has one, {@code cpu} forces the CPU, {@code cuda} refuses to run without a GPU.
     */
    public static ComputeDevice forTask(TaskContext task, String backend) {
        Map<String, ResourceInformation> resources = task == null ? Map.of() : task.resourcesJMap();
        ResourceInformation gpu = resources.get("gpu");
        String partition = task == null ? "driver" : "partition " + task.partitionId();
        if (backend.equals("cpu")) {
            LOG.info("{}: backend=cpu requested, training on the CPU", partition);
            return CPU;
        }
        if (gpu == null || gpu.addresses().length == 0) {
            if (backend.equals("cuda")) {
                throw new IllegalStateException(partition + ": backend=cuda but the task holds no 'gpu' resource; set"
                        + " spark.executor.resource.gpu.amount, spark.task.resource.gpu.amount and the discovery script"
                        + " (conf/gpu-discovery.sh), or use backend=auto");
            }
            LOG.warn("{}: no 'gpu' resource in the task context, training on the CPU backend", partition);
            return CPU;
        }
        String address = gpu.addresses()[0];
        try {
            ComputeDevice device = cuda(Integer.parseInt(address.strip()));
            LOG.info("{}: bound to CUDA device {} (task gpu addresses {})", partition, device.ordinal(),
                    String.join(",", gpu.addresses()));
            return device;
        } catch (NumberFormatException e) {
            throw new IllegalStateException(partition + ": gpu address '" + address + "' is not a CUDA ordinal; the"
                    + " discovery script must print addresses such as \"0\", \"1\"", e);
        }
    }

    @Override
    public String toString() {
        return isCuda() ? "cuda:" + ordinal : "cpu";
    }
}

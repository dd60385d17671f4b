package org.sparkmoe.jobs.train;

import java.io.Serializable;
import java.util.Locale;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.spark.OncePerJvm;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.cpu.CpuBackend;
import org.sparkmoe.model.backend.cuda.AttentionPath;
import org.sparkmoe.model.backend.cuda.CudaBackend;
import org.sparkmoe.model.backend.cuda.CudaBackends;
import org.sparkmoe.model.backend.cuda.DeviceSelection;
import org.sparkmoe.model.backend.cuda.GemmPrecision;
import org.sparkmoe.model.backend.cuda.GroupedGemmPath;

/**
 * Where a job's engine runs, from the job's {@code backend}, {@code device}, {@code cuda-gemm-precision},
 * {@code cuda-attention} and {@code cuda-grouped-gemm} settings ({@link #fromSettings}, on the driver) and, in a Spark
 * task, the task's resources. A job that builds an engine declares those five keys in its conf file, builds one of these, ships it to its tasks,
 * and there calls {@link #bind} (which device) and {@link #open} (the backend on it); a job without Spark tasks calls
 * them with no task.
 *
 * <p>Which device ({@link #bind}): {@code backend=cpu} is the CPU. Else a task's Spark {@code gpu} resource (its first
 * address) wins, because Spark's GPU scheduling gave that GPU to this task alone; {@code device} that names another
 * ordinal is then ignored, saying so. Without a {@code gpu} resource, {@code device} N; without both, {@code cuda}
 * takes device 0 and {@code auto} the CPU.
 *
 * <p>Which backend ({@link #open}): {@code cuda} opens the device or fails (the task, or a job without tasks), naming
 * the device, where its ordinal came from and the CUDA error; it never falls back. {@code auto} falls back to the CPU
 * when CUDA cannot be opened. What was chosen and why is logged once per executor (or driver) and {@code scope}
 * (the run), not per task and round ({@link OncePerJvm}).
 *
 * @param backend       {@code auto}, {@code cpu} or {@code cuda}
 * @param device        the {@code device} setting's CUDA ordinal; {@link #NO_DEVICE} when unset
 * @param gemmPrecision GEMM operand precision on a GPU
 * @param attention     how the CUDA backend computes attention
 * @param groupedGemm   how the CUDA backend computes the experts' grouped GEMMs
 * @param scope         what the engine serves, e.g. {@code train run tiny-1}: prefixes the notices and makes them once
 *                      per executor and scope
 */
public record EngineDevice(String backend, int device, GemmPrecision gemmPrecision, AttentionPath attention,
                           GroupedGemmPath groupedGemm, String scope) implements Serializable {

    public static final int NO_DEVICE = -1;

    private static final Logger LOG = LogManager.getLogger(EngineDevice.class);

    public EngineDevice {
        if (!backend.equals("auto") && !backend.equals("cpu") && !backend.equals("cuda")) {
            throw new IllegalArgumentException("backend '" + backend + "' must be auto, cpu or cuda");
        }
    }

    /** The CPU backend, for tests and tools that need no choice. */
    public static EngineDevice cpu(String scope) {
        return new EngineDevice("cpu", NO_DEVICE, GemmPrecision.BF16, AttentionPath.GEMM, GroupedGemmPath.CUBLAS,
                scope);
    }

    /**
     * From a job's {@code backend}, {@code device}, {@code cuda-gemm-precision}, {@code cuda-attention} and
     * {@code cuda-grouped-gemm} keys.
     */
    public static EngineDevice fromSettings(JobSettings s, String scope) {
        String backend = s.string("backend");
        s.require(backend.equals("auto") || backend.equals("cpu") || backend.equals("cuda"), "backend",
                "auto, cpu or cuda");
        int device = NO_DEVICE;
        if (s.has("device")) {
            try {
                device = DeviceSelection.fromDeviceOption(s.string("device")).ordinal();
            } catch (IllegalArgumentException e) {
                s.require(false, "device", "a CUDA device ordinal such as 0 or cuda:0");
            }
            s.require(!backend.equals("cpu"), "device", "empty with backend=cpu (it names the GPU for auto or cuda)");
        }
        String precision = s.string("cuda-gemm-precision");
        s.require(precision.equals("bf16") || precision.equals("fp32"), "cuda-gemm-precision", "bf16 or fp32");
        String attention = s.string("cuda-attention");
        s.require(attention.equals("auto") || attention.equals("gemm") || attention.equals("fused")
                || attention.equals("flash"), "cuda-attention", "auto, gemm, fused or flash");
        String grouped = s.string("cuda-grouped-gemm");
        s.require(grouped.equals("auto") || grouped.equals("cublas") || grouped.equals("own"), "cuda-grouped-gemm",
                "auto, cublas or own");
        return new EngineDevice(backend, device, GemmPrecision.valueOf(precision.toUpperCase(Locale.ROOT)),
                AttentionPath.valueOf(attention.toUpperCase(Locale.ROOT)),
                GroupedGemmPath.valueOf(grouped.toUpperCase(Locale.ROOT)), scope);
    }

    /** The same choice serving another scope (an evaluation of a run, say). */
    public EngineDevice inScope(String otherScope) {
        return new EngineDevice(backend, device, gemmPrecision, attention, groupedGemm, otherScope);
    }

    /** The device this task's engine uses ({@code task} null: the driver or a job without Spark tasks). */
    public ComputeDevice bind(TaskContext task) {
        if (backend.equals("cpu")) {
            say(Level.INFO, "cpu", "backend=cpu: the engine runs on the CPU backend");
            return ComputeDevice.CPU;
        }
        ResourceInformation gpu = task == null ? null : task.resourcesJMap().get("gpu");
        if (gpu != null && gpu.addresses().length > 0) {
            DeviceSelection selection;
            try {
                selection = DeviceSelection.fromSparkGpuAddresses(gpu.addresses());
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException(e.getMessage() + "; the GPU discovery script"
                        + " (spark.worker.resource.gpu.discoveryScript or spark.executor.resource.gpu.discoveryScript)"
                        + " must print CUDA ordinals such as {\"name\":\"gpu\",\"addresses\":[\"0\",\"1\"]}", e);
            }
            if (device != NO_DEVICE && device != selection.ordinal()) {
                say(Level.WARN, "device-ignored|" + selection.ordinal(), "device=" + device + " is not used: the task"
                        + " holds Spark 'gpu' resource address " + selection.ordinal() + ", which Spark's GPU scheduling"
                        + " gave it; a task's gpu resource wins over --device");
            }
            return ComputeDevice.cuda(selection.ordinal(), selection.source());
        }
        if (device != NO_DEVICE) {
            return ComputeDevice.cuda(device, "--device " + device);
        }
        String context = task == null ? "no --device" : "no 'gpu' resource in the task context and no --device";
        if (backend.equals("cuda")) {
            say(Level.INFO, "default-device", "backend=cuda with " + context + ": using CUDA device 0");
            return ComputeDevice.cuda(0, "the default device 0 (" + context + ")");
        }
        say(Level.WARN, "no-gpu", "backend=auto with " + context + ": the engine runs on the CPU backend");
        return ComputeDevice.CPU;
    }

    /**
     * The backend on {@code bound} ({@code cpuThreads} threads for the CPU backend): CUDA for a CUDA device, or, when
     * it cannot be opened, an {@link IllegalStateException} for {@code backend=cuda} and the CPU for {@code auto}.
     */
    public Backend open(ComputeDevice bound, int cpuThreads) {
        if (!bound.isCuda()) {
            return new CpuBackend(cpuThreads);
        }
        DeviceSelection selection = new DeviceSelection(bound.ordinal(), bound.source());
        String key = "open|" + bound.ordinal();
        if (backend.equals("cuda")) {
            CudaBackend cuda;
            try {
                cuda = CudaBackends.open(selection, gemmPrecision, attention, groupedGemm);
            } catch (IllegalStateException e) {
                throw new IllegalStateException(scope + ": backend=cuda: " + e.getMessage()
                        + " (fix the GPU set-up, or use backend=auto to fall back to the CPU)", e);
            }
            say(Level.INFO, key, "backend=cuda: using " + cuda.describe());
            return cuda;
        }
        CudaBackends.Choice choice = CudaBackends.cudaOrCpu(selection, gemmPrecision, attention, groupedGemm,
                () -> new CpuBackend(cpuThreads));
        say(choice.backend() instanceof CudaBackend ? Level.INFO : Level.WARN, key, "backend=auto: " + choice.message());
        return choice.backend();
    }

    /** Logs a notice once per JVM (executor or driver) and scope. */
    private void say(Level level, String what, String message) {
        if (OncePerJvm.first("engine-device|" + scope + "|" + what)) {
            LOG.log(level, "{}: {}", scope, message);
        }
    }
}

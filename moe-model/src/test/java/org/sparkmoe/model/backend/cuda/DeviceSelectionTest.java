package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Device selection from {@code --device} and from a Spark task's GPU addresses, and the messages for bad input. */
class DeviceSelectionTest {

    @Test
    void acceptsAnOrdinalOrCudaColonOrdinal() {
        assertEquals(3, DeviceSelection.fromDeviceOption("3").ordinal());
        assertEquals(1, DeviceSelection.fromDeviceOption(" cuda:1 ").ordinal());
        assertEquals("--device cuda:1", DeviceSelection.fromDeviceOption("cuda:1").source());
    }

    @Test
    void takesTheFirstSparkGpuAddress() {
        DeviceSelection s = DeviceSelection.fromSparkGpuAddresses(new String[] {"2", "5"});
        assertEquals(2, s.ordinal());
        assertTrue(s.source().contains("Spark"), s.source());
    }

    @Test
    void badInputIsRefusedWithTheInputAndTheAcceptedForms() {
        IllegalArgumentException notNumber = assertThrows(IllegalArgumentException.class,
                () -> DeviceSelection.fromDeviceOption("gpu0"));
        assertTrue(notNumber.getMessage().contains("gpu0") && notNumber.getMessage().contains("cuda:0"),
                notNumber.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> DeviceSelection.fromDeviceOption("-1"));
        assertTrue(negative.getMessage().contains("negative"), negative.getMessage());
        IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
                () -> DeviceSelection.fromDeviceOption(" "));
        assertTrue(empty.getMessage().contains("--device is empty"), empty.getMessage());
        IllegalArgumentException noGpu = assertThrows(IllegalArgumentException.class,
                () -> DeviceSelection.fromSparkGpuAddresses(new String[0]));
        assertTrue(noGpu.getMessage().contains("spark.task.resource.gpu.amount"), noGpu.getMessage());
    }
}

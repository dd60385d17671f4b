package org.sparkmoe.model.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;

/**
 * The bookkeeping of a parameter arena's bf16 image without a GPU (no device memory is touched: addresses are
 * numbers here): views carry their arena's image and find their place in it, any write through any view makes the
 * whole image stale, and only an AdamW update of the whole arena or a full cast makes it current. The GPU side
 * (the kernels write what this bookkeeping claims) is {@code CudaWeightImagesTest}.
 */
class WeightImageTest {

    private static final long IMAGE_ADDRESS = 1L << 40;
    private static final long ELEMENTS = 1_000;

    private final WeightImage image = new WeightImage(IMAGE_ADDRESS, ELEMENTS);
    private final CudaTensor arena = new CudaTensor("parameters", DType.F32, null, 0, ELEMENTS, image);

    @Test
    void viewsCarryTheImageAndFindTheirPlaceInIt() {
        CudaTensor layer = arena.view("layer", 100, 600);
        CudaTensor weight = layer.view("weight", 50, 200);
        assertSame(image, weight.image());
        assertEquals(150, weight.offset());
        assertEquals(IMAGE_ADDRESS, image.address(arena));
        assertEquals(IMAGE_ADDRESS + 2 * 150, image.address(weight), "2 bytes per bf16 element");
        CudaTensor other = new CudaTensor("activations", DType.F32, null, 0, ELEMENTS, null);
        IllegalArgumentException foreign = assertThrows(IllegalArgumentException.class, () -> image.address(other));
        assertTrue(foreign.getMessage().contains("activations"), foreign.getMessage());
        CudaTensor past = new CudaTensor("past the end", DType.F32, null, 900, 200, image);
        assertThrows(IllegalArgumentException.class, () -> image.address(past));
    }

    @Test
    void anImageStartsStaleAndAWriteThroughAnyViewMakesItStaleAgain() {
        assertFalse(image.current(), "nothing has been cast yet");
        image.refreshed();
        assertTrue(image.current());
        CudaTensor oneWeight = arena.view("layer", 100, 600).view("weight", 50, 200);
        assertSame(oneWeight, oneWeight.written());
        assertFalse(image.current(), "a write to one weight stales the arena's image");
        image.refreshed();
        arena.written();
        assertFalse(image.current());
    }

    @Test
    void adamwOverTheWholeArenaMakesTheImageCurrentAndOverAPartKeepsItAsItWas() {
        image.updatedByOptimiser(arena.view("first half", 0, ELEMENTS / 2));
        assertFalse(image.current(), "the other half was never cast");
        image.updatedByOptimiser(arena.view("all of it", 0, ELEMENTS));
        assertTrue(image.current(), "every element written in the same pass as its weight");
        image.updatedByOptimiser(arena.view("second half", ELEMENTS / 2, ELEMENTS / 2));
        assertTrue(image.current(), "the updated half was written with its weights; the rest did not change");
        arena.written();
        image.updatedByOptimiser(arena);
        assertTrue(image.current());
    }

    @Test
    void aTensorWithoutAnImageIgnoresWrites() {
        CudaTensor activations = new CudaTensor("activations", DType.F32, null, 0, 10, null);
        assertSame(activations, activations.written());
        assertEquals(null, activations.view("part", 2, 3).image());
    }
}

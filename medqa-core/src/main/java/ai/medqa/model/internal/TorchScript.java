package ai.medqa.model.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A TorchScript module whose source we write ourselves, compiled by PyTorch at load time: the way
 * to call any aten operation (or a whole fused block of them) from Java in one JNI crossing. The
 * archive is built in memory from the source text (no Python, no temporary file) and loaded on the
 * manager's device. Modules hold no parameters: tensors are passed to every call.
 */
public final class TorchScript implements AutoCloseable {
    private final PtSymbolBlock module;

    private TorchScript(PtSymbolBlock module) {
        this.module = module;
    }

    /**
     * Compiles {@code source} (the text of {@code code/__torch__.py}, defining class
     * {@code className}) on {@code manager}'s device.
     *
     * @throws IllegalStateException if the engine is not PyTorch
     * @throws RuntimeException if PyTorch rejects the source
     */
    public static TorchScript load(NDManager manager, String className, String source) {
        if (!(manager instanceof PtNDManager pt)) {
            throw new IllegalStateException("TorchScript needs the PyTorch engine, not "
                    + manager.getEngine().getEngineName());
        }
        byte[] zip = archive(className, source);
        try {
            return new TorchScript(JniUtils.loadModule(pt, new ByteArrayInputStream(zip), true, false));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load TorchScript module " + className, e);
        }
    }

    /** A UTF-8 resource next to {@code owner}. */
    static String resource(Class<?> owner, String name) throws IOException {
        try (InputStream in = owner.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing resource " + name + " next to " + owner.getName());
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * A TorchScript archive holding {@code source} as the code of class {@code __torch__.<className>}.
     * torch.jit.load needs {@code data.pkl} (the module object), {@code code/__torch__.py},
     * {@code constants.pkl} and {@code version}; {@code byteorder} is optional but written as
     * torch.jit.save does. Entries are STORED (PyTorch reads them in place) under any top folder.
     */
    static byte[] archive(String className, String source) {
        if (!className.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("not a class name: " + className);
        }
        // pickle protocol 2: __torch__.<className>.__new__() with state
        // {"training": False, "_is_full_backward_hook": None}.
        byte[] dataPkl = ("\u0080\u0002c__torch__\n" + className
                        + "\nq\u0000)\u0081}(X\u0008\u0000\u0000\u0000trainingq\u0001"
                        + "\u0089X\u0016\u0000\u0000\u0000_is_full_backward_hookq\u0002Nubq\u0003.")
                .getBytes(StandardCharsets.ISO_8859_1);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            stored(zip, "archive/data.pkl", dataPkl);
            stored(zip, "archive/code/__torch__.py", source.getBytes(StandardCharsets.UTF_8));
            stored(zip, "archive/constants.pkl", "\u0080\u0002).".getBytes(StandardCharsets.ISO_8859_1));
            stored(zip, "archive/version", "3\n".getBytes(StandardCharsets.US_ASCII));
            stored(zip, "archive/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory failed", e);
        }
        return bytes.toByteArray();
    }

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        ZipEntry entry = new ZipEntry(name);
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(data.length);
        entry.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(data);
        zip.closeEntry();
    }

    /**
     * Runs {@code method} and returns its tensor result attached to {@code target} (an enclosing
     * NDScope frees it). The arguments are not closed.
     */
    public NDArray call(NDManager target, String method, IValue... args) {
        try (IValue result = IValueUtils.runMethod(module, method, args)) {
            return result.toTensor((PtNDManager) target);
        }
    }

    /** Runs {@code method} and returns its result as a TorchScript value, which the caller closes. */
    public IValue callValue(String method, IValue... args) {
        return IValueUtils.runMethod(module, method, args);
    }

    @Override
    public void close() {
        module.close();
    }
}

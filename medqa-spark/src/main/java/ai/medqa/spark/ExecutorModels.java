package ai.medqa.spark;

import ai.medqa.MedQA;
import ai.medqa.generate.BatchEngine;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerApplicationEnd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@link MedQA} per {@link ModelSpec} in this JVM, loaded by the first task that needs it and shared
 * by all task threads after it: a 7B model loaded per task (or per partition) would cost more than the
 * task. Tasks lease the model for one batch at a time; the LoRA adapter is global to a {@code MedQA},
 * so leases of different adapters take turns (leases of the same adapter run together). Generation
 * goes through one {@link BatchEngine} per model, whose passes name each row's adapter and never
 * switch the model's: rows of all task threads and adapters decode together, beside the leases.
 *
 * <p>Closed when the application ends: on the driver (and so in local mode) by a listener on the
 * application's end, on a cluster's executors by a shutdown hook, since executors hear no such event
 * and their JVM ends with the application.
 */
final class ExecutorModels {
    private static final Logger log = LoggerFactory.getLogger(ExecutorModels.class);
    private static final Map<ModelSpec, Entry> MODELS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();
    private static final AtomicInteger CLOSES = new AtomicInteger();
    private static final AtomicBoolean HOOK = new AtomicBoolean();
    private static final Set<String> LISTENING = ConcurrentHashMap.newKeySet();
    /** Rows the engine decodes together, all task threads and adapters of this JVM. */
    static final int ENGINE_BATCH = 16;

    private ExecutorModels() {}

    /** The model for one batch, with {@code adapter} (null: none) active until {@link Lease#close}. */
    static Lease acquire(ModelSpec spec, String adapter) {
        while (true) {
            Entry e = MODELS.computeIfAbsent(spec, Entry::new);
            Lease lease = e.acquire(adapter);
            if (lease != null) {
                return lease;
            }
            // Closed between lookup and lease (the application ended): a new entry loads again.
            MODELS.remove(spec, e);
        }
    }

    /** Registers, once per application, the listener that closes this JVM's models when it ends. */
    static void closeWhenStopped(SparkContext sc) {
        if (LISTENING.add(sc.applicationId())) {
            sc.addSparkListener(new SparkListener() {
                @Override
                public void onApplicationEnd(SparkListenerApplicationEnd end) {
                    LISTENING.remove(sc.applicationId());
                    closeAll();
                }
            });
        }
    }

    /** Closes every model (those in use when their last lease ends). */
    static void closeAll() {
        for (ModelSpec spec : MODELS.keySet()) {
            Entry e = MODELS.remove(spec);
            if (e != null) {
                e.close();
            }
        }
    }

    /** How many times a model was loaded in this JVM (tests). */
    static int loads() {
        return LOADS.get();
    }

    /** How many loaded models were closed in this JVM (tests). */
    static int closes() {
        return CLOSES.get();
    }

    /** Models loaded and not closed (tests). */
    static int open() {
        return (int) MODELS.values().stream().filter(e -> e.medqa != null).count();
    }

    /** A model in use by one task thread; closing it lets other adapters (or the close) proceed. */
    static final class Lease implements AutoCloseable {
        private final Entry entry;
        private boolean closed;

        private Lease(Entry entry) {
            this.entry = entry;
        }

        MedQA medqa() {
            return entry.medqa;
        }

        /**
         * The JVM's batching engine for this model: rows of every task thread (and every adapter)
         * decode together. Its passes take no lease and change no adapter.
         */
        BatchEngine engine() {
            return entry.engine();
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                entry.release();
            }
        }
    }

    private static final class Entry {
        private final ModelSpec spec;
        private MedQA medqa;
        private BatchEngine engine;
        private String adapter;
        private boolean adapterSet;
        private int users;
        private boolean closing;

        Entry(ModelSpec spec) {
            this.spec = spec;
        }

        synchronized Lease acquire(String wanted) {
            while (users > 0 && !Objects.equals(adapter, wanted) && !closing) {
                waitUninterruptibly();
            }
            if (closing) {
                return null;
            }
            if (medqa == null) {
                // Under the entry's lock: the other task threads wait for this one load.
                long start = System.nanoTime();
                medqa = spec.load();
                LOADS.incrementAndGet();
                log.info(
                        "loaded {} for this JVM's tasks in {} s",
                        spec.modelDir(),
                        String.format("%.1f", (System.nanoTime() - start) / 1e9));
                if (HOOK.compareAndSet(false, true)) {
                    Runtime.getRuntime().addShutdownHook(new Thread(ExecutorModels::closeAll, "medqa-close-models"));
                }
            }
            if (!adapterSet || !Objects.equals(adapter, wanted)) {
                if (wanted != null && !medqa.adapters().contains(wanted)) {
                    throw new IllegalArgumentException(
                            "adapter \"" + wanted + "\" is not among the model's LoRA adapters " + medqa.adapters()
                                    + " (ModelSpec.withLora / the loras parameter)");
                }
                medqa.useAdapter(wanted);
                adapter = wanted;
                adapterSet = true;
            }
            users++;
            return new Lease(this);
        }

        synchronized void release() {
            users--;
            notifyAll();
            if (closing && users == 0) {
                closeNow();
            }
        }

        /**
         * Made on first use. Its passes name each row's adapter and never switch the model's active
         * one, so they run beside scorers holding leases of theirs.
         */
        synchronized BatchEngine engine() {
            if (closing) {
                throw new IllegalStateException("the model is being closed (the application ended)");
            }
            if (engine == null) {
                engine = new BatchEngine(
                        medqa.model(), medqa.tokenizer(), medqa.engineAdapters(), ENGINE_BATCH, Integer.MAX_VALUE);
            }
            return engine;
        }

        void close() {
            BatchEngine running;
            synchronized (this) {
                closing = true;
                running = engine;
                engine = null;
                notifyAll();
            }
            // Outside the lock: the engine's thread may be waiting in acquire for it.
            if (running != null) {
                running.close();
            }
            synchronized (this) {
                if (users == 0) {
                    closeNow();
                }
            }
        }

        private void closeNow() {
            if (medqa != null) {
                medqa.close();
                medqa = null;
                CLOSES.incrementAndGet();
                log.info("closed {}", spec.modelDir());
            }
        }

        private void waitUninterruptibly() {
            try {
                wait();
            } catch (InterruptedException e) {
                // Spark interrupts a killed task's thread: give up the wait and let the task end.
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the model", e);
            }
        }
    }
}

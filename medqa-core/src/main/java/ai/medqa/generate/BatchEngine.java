package ai.medqa.generate;

import ai.djl.ndarray.NDScope;
import ai.medqa.model.AdapterRows;
import ai.medqa.model.KvCache;
import ai.medqa.model.MistralModel;
import ai.medqa.tokenizer.Tokenizer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous batching: requests join the running batch at the next step and leave it when they
 * finish, each row with its own sampler, seed, stop rule and adapter. One thread drives the model;
 * callers {@link #submit} from any thread and get tokens through a listener and the result through
 * a future.
 *
 * <p>A joining request is prefilled alone (the same arithmetic as a single run), then its keys and
 * values are copied into the batch ({@link MistralModel#gatherCache}), right-aligned so each row
 * keeps its own positions. Rows of <b>different LoRA adapters share the batch</b>: each step is one
 * forward pass in which the base products run once for all rows and each row adds its own
 * adapter's low-rank delta ({@link AdapterRows}); no adapter is switched and no model state is
 * read. Batched products can round differently from a single row's (within 1e-4 in the logits),
 * which can flip a sampled token where two were nearly tied.
 */
public final class BatchEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BatchEngine.class);

    /** The LoRA adapters requests may ask for, and the ids the model's forward pass knows them by. */
    public interface Adapters {
        /** Names that requests may ask for (null, the base model, is always allowed). */
        Set<String> names();

        /** The id of adapter {@code name} in {@link AdapterRows} (null: {@link AdapterRows#NONE_ID}). */
        int id(String name);

        /** A model without adapters. */
        Adapters NONE = new Adapters() {
            @Override
            public Set<String> names() {
                return Set.of();
            }

            @Override
            public int id(String name) {
                return AdapterRows.NONE_ID;
            }
        };
    }

    /** Thrown by {@link #submit} when the queue is full; try again later. */
    public static final class QueueFullException extends RejectedExecutionException {
        QueueFullException(String message) {
            super(message);
        }
    }

    /** A submitted generation. */
    public final class Request {
        private final DecodeRow row;
        private final String adapter;
        private int adapterId; // resolved on the engine's thread when it is admitted (adapters may change meanwhile)
        private final Generator.TokenListener listener;
        private final CompletableFuture<Generation> result = new CompletableFuture<>();
        private volatile boolean cancelled;
        /** What a listener threw, reported as the request's failure instead of a plain cancellation. */
        private volatile RuntimeException failure;

        private KvCache prefill; // its own cache until it joins a batch
        private int slot; // its row in the batch's cache since the last regroup

        private Request(DecodeRow row, String adapter, Generator.TokenListener listener) {
            this.row = row;
            this.adapter = adapter;
            this.listener = listener;
        }

        /** The LoRA adapter it decodes with, or null for the base model. */
        public String adapter() {
            return adapter;
        }

        /** Completes with the generation, or exceptionally ({@link CancellationException} when cancelled). */
        public CompletableFuture<Generation> result() {
            return result;
        }

        /**
         * Waits for the generation: interrupted, it cancels the request and throws
         * IllegalStateException; a failure comes out as the RuntimeException it was.
         */
        public Generation join() {
            try {
                return result.get();
            } catch (InterruptedException e) {
                cancel();
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while generating", e);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            }
        }

        /** Stops generating for this request (a client went away) and frees its row at the next step. */
        public void cancel() {
            cancelled = true;
            wake();
        }

        /** The prompt's length in tokens. */
        public int promptTokens() {
            return row.prompt.length;
        }
    }

    /** The running rows and their shared cache. */
    private static final class Group {
        final List<Request> rows = new ArrayList<>();
        final List<Request> joining = new ArrayList<>();
        KvCache cache;
        boolean changed;
    }

    private final MistralModel model;
    private final Tokenizer tokenizer;
    private final Adapters adapters;
    private final int maxBatch;
    private final int maxQueue;
    private final int vocab;
    private final float[] rowBuffer; // one row of a batch's logits at a time (the engine thread's)
    private final ArrayDeque<Request> queue = new ArrayDeque<>();
    private final Group group = new Group();
    private final Thread thread;
    private volatile boolean closed;
    private volatile int running;
    private final AtomicLong generatedTokens = new AtomicLong();
    private final AtomicLong steps = new AtomicLong();

    /**
     * @param tokenizer null to work on ids only (no text, no stop strings)
     * @param maxBatch rows decoded together at most (all adapters together)
     * @param maxQueue requests waiting for a row at most; more are refused with {@link QueueFullException}
     */
    public BatchEngine(MistralModel model, Tokenizer tokenizer, Adapters adapters, int maxBatch, int maxQueue) {
        if (maxBatch < 1) {
            throw new IllegalArgumentException("maxBatch must be >= 1, got " + maxBatch);
        }
        if (maxQueue < 0) {
            throw new IllegalArgumentException("maxQueue must be >= 0, got " + maxQueue);
        }
        this.model = Objects.requireNonNull(model, "model");
        this.tokenizer = tokenizer;
        this.adapters = Objects.requireNonNull(adapters, "adapters");
        this.maxBatch = maxBatch;
        this.maxQueue = maxQueue;
        this.vocab = model.config().vocabSize();
        this.rowBuffer = new float[vocab];
        this.thread = new Thread(this::run, "medqa-engine");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Queues a generation. The listener is called on the engine's thread for every new token, in
     * order; it must return quickly (hand the text to another thread if it writes to a network).
     *
     * @param adapter a name from {@link Adapters#names()}, or null for the base model
     * @throws QueueFullException when {@code maxQueue} requests are already waiting
     * @throws IllegalArgumentException for an unknown adapter, an empty prompt or an id outside the vocabulary
     * @throws ai.medqa.model.ContextOverflowException when the prompt leaves no room for a new token
     */
    public Request submit(int[] prompt, GenerationConfig config, String adapter, Generator.TokenListener listener) {
        Objects.requireNonNull(config, "config");
        if (adapter != null && !adapters.names().contains(adapter)) {
            throw new IllegalArgumentException(
                    "no adapter named " + adapter + " is loaded (loaded: " + adapters.names() + ")");
        }
        int context = model.config().maxPositionEmbeddings();
        DecodeSession.checkPrompt(prompt, vocab, context);
        StopCriteria stop = DecodeSession.stopCriteria(model, tokenizer, config);
        int budget = Math.min(config.maxNewTokens(), context - prompt.length);
        DecodeRow row = new DecodeRow(
                prompt,
                budget,
                budget < config.maxNewTokens(),
                Sampler.create(config),
                stop,
                tokenizer,
                System.nanoTime());
        Request r = new Request(row, adapter, listener == null ? (id, text) -> {} : listener);
        synchronized (this) {
            if (closed) {
                throw new RejectedExecutionException("the engine is closed");
            }
            // Requests that will take a free row at the next step are not waiting in the queue's sense.
            int free = Math.max(0, maxBatch - running);
            if (queue.size() >= (long) maxQueue + free) {
                throw new QueueFullException("the queue is full: " + (queue.size() - free)
                        + " requests waiting of at most " + maxQueue + ", " + running + " rows running");
            }
            queue.add(r);
            notifyAll();
        }
        return r;
    }

    /** Requests waiting for a row. */
    public synchronized int queued() {
        return queue.size();
    }

    /** Rows being decoded. */
    public int running() {
        return running;
    }

    /** Tokens generated since the engine started. */
    public long generatedTokens() {
        return generatedTokens.get();
    }

    /** Forward passes since the engine started (one per step whatever the rows' adapters, prefills included). */
    public long forwardPasses() {
        return steps.get();
    }

    private synchronized void wake() {
        notifyAll();
    }

    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>(); // guarded by this

    /**
     * Runs {@code task} on the engine's thread between two steps, when no forward pass is running
     * (for changes to the model, such as attaching or removing an adapter while serving).
     */
    public <T> CompletableFuture<T> betweenSteps(Callable<T> task) {
        CompletableFuture<T> result = new CompletableFuture<>();
        synchronized (this) {
            if (closed) {
                throw new RejectedExecutionException("the engine is closed");
            }
            tasks.add(() -> {
                try {
                    result.complete(task.call());
                } catch (Exception | Error e) {
                    result.completeExceptionally(e);
                }
            });
            notifyAll();
        }
        return result;
    }

    /** Whether a waiting or running request uses adapter {@code name}; for tasks run {@link #betweenSteps}. */
    public boolean inUse(String name) {
        synchronized (this) {
            if (queue.stream().anyMatch(r -> name.equals(r.adapter))) {
                return true;
            }
        }
        return group.rows.stream().anyMatch(r -> name.equals(r.adapter))
                || group.joining.stream().anyMatch(r -> name.equals(r.adapter));
    }

    private void runTasks() {
        while (true) {
            Runnable t;
            synchronized (this) {
                t = tasks.poll();
            }
            if (t == null) {
                return;
            }
            t.run();
        }
    }

    private void run() {
        try {
            while (!closed) {
                runTasks();
                Group g = group;
                try {
                    if (!admit()) {
                        continue;
                    }
                    step(g);
                } catch (InterruptedException e) {
                    break;
                } catch (RuntimeException | Error failure) {
                    // A failure of the model itself: the batch's rows get it; the engine keeps serving.
                    log.error("decode step failed; failing {} requests", g.rows.size() + g.joining.size(), failure);
                    running -= g.rows.size() + g.joining.size();
                    failAll(failure);
                }
                if (g.rows.isEmpty() && g.joining.isEmpty() && g.cache != null) {
                    g.cache.close();
                    g.cache = null;
                }
            }
        } finally {
            // Whatever ends the loop, nothing waits forever: refuse new work, fail what is left.
            synchronized (this) {
                closed = true;
            }
            shutdown();
        }
    }

    /** Moves waiting requests into rows (prefilling each); false when there was nothing to do. */
    private boolean admit() throws InterruptedException {
        List<Request> admitted = new ArrayList<>();
        synchronized (this) {
            while (!closed && queue.isEmpty() && group.rows.isEmpty() && group.joining.isEmpty() && tasks.isEmpty()) {
                wait();
            }
            if (closed) {
                return false;
            }
            int free = maxBatch - running;
            while (free-- > 0 && !queue.isEmpty()) {
                admitted.add(queue.poll());
                running++; // counted from here, so that submit sees the row taken
            }
            if (admitted.isEmpty() && group.rows.isEmpty() && group.joining.isEmpty()) {
                return false; // woken for a task only
            }
        }
        for (Request r : admitted) {
            if (r.cancelled) {
                r.result.completeExceptionally(new CancellationException("cancelled before it started"));
                running--;
                continue;
            }
            // Here, between steps, no adapter is being added or removed: the id is the adapter's own.
            try {
                r.adapterId = adapters.id(r.adapter);
            } catch (RuntimeException gone) {
                r.result.completeExceptionally(
                        new IllegalArgumentException("no adapter named " + r.adapter + " is loaded any more", gone));
                running--;
                continue;
            }
            try {
                prefill(r);
            } catch (RuntimeException | Error failure) {
                log.error("prefill failed for a prompt of {} tokens", r.row.prompt.length, failure);
                r.result.completeExceptionally(failure);
                if (r.prefill != null) {
                    r.prefill.close();
                }
                running--;
                continue;
            }
            if (!finishIfDone(r)) {
                group.joining.add(r);
                group.changed = true;
            }
        }
        return true;
    }

    private void prefill(Request r) {
        int[] prompt = r.row.prompt;
        r.prefill = model.newCache(prompt.length);
        float[] logits;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            logits = model.forward(new int[][] {prompt}, r.prefill, false, AdapterRows.of(r.adapterId))
                    .toFloatArray();
        }
        steps.incrementAndGet();
        emit(r, r.row.advance(logits));
    }

    /** One decode step: regroup if rows joined or left, one forward pass for every row, sample. */
    private void step(Group g) {
        for (Iterator<Request> it = g.rows.iterator(); it.hasNext(); ) {
            Request r = it.next();
            if (finishIfDone(r)) {
                it.remove();
                g.changed = true;
            }
        }
        for (Iterator<Request> it = g.joining.iterator(); it.hasNext(); ) {
            Request r = it.next();
            if (finishIfDone(r)) {
                it.remove();
            }
        }
        if (g.changed) {
            regroup(g);
        }
        if (g.rows.isEmpty()) {
            return;
        }
        int[][] feed = new int[g.rows.size()][];
        int[] ids = new int[feed.length];
        for (int i = 0; i < feed.length; i++) {
            feed[i] = new int[] {g.rows.get(i).row.lastId()};
            ids[i] = g.rows.get(i).adapterId;
        }
        DecodeRow.forwardRows(model, feed, g.cache, AdapterRows.of(ids), rowBuffer, (i, logits) -> {
            Request r = g.rows.get(i);
            emit(r, r.row.advance(logits));
        });
        steps.incrementAndGet();
        // Finished rows answer now; their slots go at the next regroup.
        for (Iterator<Request> it = g.rows.iterator(); it.hasNext(); ) {
            if (finishIfDone(it.next())) {
                it.remove();
                g.changed = true;
            }
        }
    }

    /** A new cache for the group's surviving rows and its joiners, with room for the longest remaining budget. */
    private void regroup(Group g) {
        List<Request> rows = new ArrayList<>(g.rows);
        rows.addAll(g.joining);
        KvCache old = g.cache;
        KvCache fresh = null;
        if (!rows.isEmpty()) {
            KvCache[] sources = new KvCache[rows.size()];
            int[] index = new int[rows.size()];
            int room = 0;
            for (int i = 0; i < rows.size(); i++) {
                Request r = rows.get(i);
                boolean joining = r.prefill != null;
                sources[i] = joining ? r.prefill : old;
                index[i] = joining ? 0 : r.slot;
                room = Math.max(room, r.row.remaining());
            }
            // If this throws (out of memory), the group still holds its old cache for the failure path to close.
            fresh = model.gatherCache(sources, index, room);
            for (int i = 0; i < rows.size(); i++) {
                rows.get(i).slot = i;
            }
        }
        g.cache = fresh;
        if (old != null) {
            old.close();
        }
        for (Request r : g.joining) {
            r.prefill.close();
            r.prefill = null;
        }
        g.rows.clear();
        g.rows.addAll(rows);
        g.joining.clear();
        g.changed = false;
    }

    private void emit(Request r, int id) {
        generatedTokens.incrementAndGet();
        try {
            r.listener.onToken(id, tokenizer == null ? "" : r.row.takeText(), r.row.lastLogprob());
        } catch (RuntimeException e) {
            log.warn("a token listener failed; cancelling its request", e);
            r.failure = e;
            r.cancelled = true;
        }
    }

    /** Completes a request that is done or cancelled; true if it left. */
    private boolean finishIfDone(Request r) {
        if (!r.cancelled && !r.row.done()) {
            return false;
        }
        if (r.prefill != null) {
            r.prefill.close();
            r.prefill = null;
        }
        running--; // before the caller hears of it, so that a new submit finds the row free
        if (r.cancelled) {
            r.result.completeExceptionally(r.failure != null ? r.failure : new CancellationException("cancelled"));
        } else {
            r.result.complete(r.row.result());
        }
        return true;
    }

    private static void closeQuietly(Group g) {
        if (g.cache != null) {
            g.cache.close();
        }
        for (Request r : g.joining) {
            if (r.prefill != null) {
                r.prefill.close();
            }
        }
    }

    private void shutdown() {
        List<Request> waiting;
        synchronized (this) {
            waiting = new ArrayList<>(queue);
            queue.clear();
        }
        CancellationException closing = new CancellationException("the engine was closed");
        waiting.forEach(r -> r.result.completeExceptionally(closing));
        failAll(closing);
        running = 0;
        runTasks(); // their callers wait for them; they find no row running
    }

    /** Completes every running and joining row with {@code failure} and frees their caches. */
    private void failAll(Throwable failure) {
        group.rows.forEach(r -> r.result.completeExceptionally(failure));
        group.joining.forEach(r -> r.result.completeExceptionally(failure));
        closeQuietly(group);
        group.rows.clear();
        group.joining.clear();
        group.cache = null;
    }

    /** Stops the engine: waiting and running requests complete with a {@link CancellationException}. */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        if (Thread.currentThread() == thread) {
            return; // closed from a listener: the loop ends after this step
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

package ai.medqa.chat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Objects;

/**
 * Reads a {@link Tools} answer while it is generated, so that it can be streamed: the reply's text
 * piece by piece (a string reply decoded from its JSON escapes; a reply with a schema as its JSON
 * text), or each tool call's name once it is complete and then its arguments' JSON text piece by
 * piece. The answer is constrained, so it is valid JSON of the shapes {@link Tools} asks for
 * ({@code {"tool_calls": [{"name": ..., "arguments": {...}}, ...]}} or {@code {"response": ...}});
 * this reads its characters once, keeping only a stack of where it is.
 *
 * <p>Joined, the reply pieces are {@link Tools#parse}'s reply and each call's argument pieces are its
 * arguments' JSON text as generated. Calls get {@code call_...} ids as {@link Tools#parse} gives them.
 */
public final class ToolStream {
    /**
     * What the answer turns out to hold, as it arrives. Called on the thread that pushes text. A
     * listener that wants the reply only implements {@link #reply}.
     */
    @FunctionalInterface
    public interface Listener {
        /** More of the reply to the user. */
        void reply(String text);

        /** Call {@code index} (from 0) of tool {@code name}; its arguments follow. */
        default void call(int index, String id, String name) {}

        /** More of call {@code index}'s arguments (JSON text). */
        default void arguments(int index, String json) {}
    }

    private final Listener listener;
    private final Tools tools;
    private final boolean stringReply;
    /** Native form: UNDECIDED until the control token or other text comes; then CALLS or REPLY. */
    private NativeState nativeState;

    private final StringBuilder blanks = new StringBuilder(); // native: leading blanks not yet decided on

    private enum NativeState {
        UNDECIDED,
        CALLS,
        REPLY
    }

    private final List<Tools.Call> calls = new ArrayList<>();
    private final Deque<Frame> stack = new ArrayDeque<>();
    private final StringBuilder string = new StringBuilder(); // the string being read (decoded)
    private final StringBuilder out = new StringBuilder(); // captured text not yet handed out
    private boolean inString;
    private boolean stringIsKey;
    private boolean escape;
    private int unicodeLeft = -1; // hex digits of a \\u escape still to come
    private int unicode;
    private boolean inPrimitive;
    private Capture capture; // what the value being read is, when it is wanted
    private int captureDepth;
    private boolean replied;

    private enum Capture {
        REPLY_STRING,
        REPLY_JSON,
        ARGUMENTS,
        NAME
    }

    private static final class Frame {
        final boolean object;
        String key;
        boolean expectKey;

        Frame(boolean object) {
            this.object = object;
            this.expectKey = object;
        }
    }

    /**
     * @param tools the request's tools (a reply with a schema streams as JSON text, a plain reply as text)
     */
    public ToolStream(Tools tools, Listener listener) {
        this.listener = Objects.requireNonNull(listener, "listener");
        this.tools = tools;
        this.stringReply = !tools.hasReplySchema();
        this.nativeState = tools.isNative() ? NativeState.UNDECIDED : null;
    }

    /** The calls read so far, with the ids they were announced with (their arguments as parsed at the end: null). */
    public List<Tools.Call> calls() {
        return List.copyOf(calls);
    }

    /** Whether a reply (rather than calls) has begun. */
    public boolean isReply() {
        return replied;
    }

    /**
     * Reads the next generated token and its text; listeners hear what it completes. In native form
     * the token tells calls ({@code [TOOL_CALLS]}, then the calls' JSON array, read as the generic
     * form's {@code tool_calls} array) from a reply (its text as it comes, leading blanks dropped).
     */
    public void push(int token, String text) {
        if (nativeState == null) {
            push(text);
            return;
        }
        switch (nativeState) {
            case UNDECIDED -> {
                if (token == tools.controlId()) {
                    nativeState = NativeState.CALLS;
                    push("{\"tool_calls\": ");
                } else if (text.isBlank()) {
                    blanks.append(text);
                } else {
                    nativeState = NativeState.REPLY;
                    replied = true;
                    listener.reply(text.stripLeading());
                }
            }
            case CALLS -> push(text);
            case REPLY -> {
                if (!text.isEmpty()) {
                    listener.reply(text);
                }
            }
        }
    }

    /** The answer is complete: in native form, closes what the generic reader was given. */
    public void end() {
        if (nativeState == NativeState.CALLS) {
            push("}");
        }
    }

    /** Reads the next generated text; listeners hear what it completes. */
    public void push(String text) {
        for (int i = 0; i < text.length(); i++) {
            read(text.charAt(i));
        }
        flush();
    }

    private void flush() {
        if (out.length() == 0) {
            return;
        }
        String piece = out.toString();
        out.setLength(0);
        if (capture == Capture.ARGUMENTS) {
            listener.arguments(calls.size() - 1, piece);
        } else {
            listener.reply(piece);
        }
    }

    private void read(char c) {
        if (inString) {
            readString(c);
            return;
        }
        if (inPrimitive) {
            if (c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\t' || c == '\r') {
                inPrimitive = false;
                endValue();
            } else {
                captured(c);
                return;
            }
        }
        switch (c) {
            case '{', '[' -> {
                startValue();
                captured(c);
                stack.push(new Frame(c == '{'));
            }
            case '}', ']' -> {
                captured(c);
                stack.pop();
                endValue();
            }
            case '"' -> {
                Frame top = stack.peek();
                stringIsKey = top != null && top.object && top.expectKey;
                if (!stringIsKey) {
                    startValue();
                }
                inString = true;
                string.setLength(0);
                captured(c); // not for a string reply's own quotes (captured() knows)
            }
            case ':' -> {
                captured(c);
                if (stack.peek() != null) {
                    stack.peek().expectKey = false;
                }
            }
            case ',' -> {
                captured(c);
                Frame top = stack.peek();
                if (top != null && top.object) {
                    top.expectKey = true;
                    top.key = null;
                }
            }
            case ' ', '\n', '\t', '\r' -> captured(c);
            default -> {
                startValue();
                inPrimitive = true;
                captured(c);
            }
        }
    }

    private void readString(char c) {
        boolean decodedReply = capture == Capture.REPLY_STRING && stack.size() == captureDepth;
        if (!decodedReply) {
            captured(c);
        }
        if (unicodeLeft > 0) {
            unicode = unicode * 16 + Character.digit(c, 16);
            if (--unicodeLeft == 0) {
                decoded((char) unicode, decodedReply);
                unicodeLeft = -1;
            }
            return;
        }
        if (escape) {
            escape = false;
            switch (c) {
                case 'u' -> {
                    unicodeLeft = 4;
                    unicode = 0;
                }
                case 'n' -> decoded('\n', decodedReply);
                case 't' -> decoded('\t', decodedReply);
                case 'r' -> decoded('\r', decodedReply);
                case 'b' -> decoded('\b', decodedReply);
                case 'f' -> decoded('\f', decodedReply);
                default -> decoded(c, decodedReply); // \" \\ \/
            }
            return;
        }
        if (c == '\\') {
            escape = true;
            return;
        }
        if (c == '"') {
            inString = false;
            String s = string.toString();
            if (stringIsKey) {
                stack.peek().key = s;
            } else {
                endString(s);
            }
            return;
        }
        decoded(c, decodedReply);
    }

    private void decoded(char c, boolean reply) {
        string.append(c);
        if (reply) {
            out.append(c);
        }
    }

    private void captured(char c) {
        if (capture != null
                && capture != Capture.NAME
                && (capture != Capture.REPLY_STRING || stack.size() > captureDepth)) {
            out.append(c);
        }
    }

    /** A value begins where the stack is: is it one the listener wants? */
    private void startValue() {
        if (capture != null) {
            return;
        }
        Frame top = stack.peek();
        if (top == null) {
            return;
        }
        if (stack.size() == 1 && "response".equals(top.key)) {
            replied = true;
            capture = stringReply ? Capture.REPLY_STRING : Capture.REPLY_JSON;
            captureDepth = stack.size();
        } else if (stack.size() == 3 && top.object && isCallsArray()) {
            if ("arguments".equals(top.key)) {
                capture = Capture.ARGUMENTS;
                captureDepth = stack.size();
            } else if ("name".equals(top.key)) {
                capture = Capture.NAME;
                captureDepth = stack.size();
            }
        }
    }

    private boolean isCallsArray() {
        var it = stack.iterator();
        it.next(); // the call object
        Frame array = it.next();
        Frame root = it.next();
        return !array.object && "tool_calls".equals(root.key);
    }

    /** A value ended (the stack is back where it began): hand out what was captured. */
    private void endValue() {
        if (capture != null && capture != Capture.NAME && stack.size() == captureDepth) {
            flush();
            capture = null;
        }
    }

    private void endString(String s) {
        if (capture == Capture.NAME && stack.size() == captureDepth) {
            capture = null;
            Tools.Call call = new Tools.Call(tools.newCallId(), s, null);
            calls.add(call);
            listener.call(calls.size() - 1, call.id(), s);
            return;
        }
        endValue();
    }
}

package ai.medqa.examples.cli;

import ai.medqa.MedQA;
import ai.medqa.chat.Conversation;
import ai.medqa.model.ContextOverflowException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code medqa chat}: an interactive multi-turn session. Each line typed is a user turn; the reply
 * streams back. {@code /reset} starts over, {@code /save FILE} writes the conversation as JSON,
 * {@code /help} lists the commands, {@code /exit} (or end of input) quits. A line starting with
 * {@code /} is a command, never sent to the model; {@code //} sends a line that starts with {@code /}.
 */
@Command(name = "chat", mixinStandardHelpOptions = true, description = "Interactive multi-turn chat.")
final class ChatCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Option(names = "--load", description = "Continue a conversation saved with /save.")
    Path load;

    InputStream in = System.in;
    PrintStream out = System.out;

    static final String HELP = "commands: /reset (start over), /save FILE (the conversation as JSON), /help, /exit "
            + "(or end of input); //text sends a line starting with /";

    @Override
    public Integer call() throws IOException {
        var config = sampling.config(); // checked before the model loads
        try (MedQA medqa = sampling.apply(model.builder()).build()) {
            Conversation conversation = load != null ? Conversation.load(load) : medqa.newConversation();
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            out.println(
                    "medqa chat: " + model.model.toAbsolutePath().normalize().getFileName()
                            + (medqa.activeAdapter().isPresent()
                                    ? " with adapter " + medqa.activeAdapter().get()
                                    : "")
                            + (load != null ? ", continuing " + load : "") + ". Type a question; /help for commands.");
            out.print("> ");
            out.flush();
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                String text = line.strip();
                String command = text.startsWith("/") && !text.startsWith("//") ? text.split("\\s+", 2)[0] : null;
                String argument =
                        command == null ? "" : text.substring(command.length()).strip();
                if (command != null) {
                    switch (command) {
                        case "/exit", "/quit" -> {
                            out.println();
                            return 0;
                        }
                        case "/reset" -> {
                            conversation = medqa.newConversation();
                            out.println("(conversation cleared)");
                        }
                        case "/save" -> {
                            if (argument.isEmpty()) {
                                out.println("(/save needs a file: /save FILE)");
                            } else {
                                Path file = Path.of(argument);
                                conversation.save(file);
                                out.println("saved " + file);
                            }
                        }
                        case "/help" -> out.println(HELP);
                        default -> out.println("(unknown command " + command + "; " + HELP + ")");
                    }
                } else if (!text.isEmpty()) {
                    text = text.startsWith("//") ? text.substring(1) : text;
                    conversation.addUser(text);
                    try {
                        medqa.chat(conversation, sampling.config(), piece -> {
                            out.print(piece);
                            out.flush();
                        });
                    } catch (ContextOverflowException e) {
                        // One message too long must not end the session: say what fits and read on.
                        conversation.removeLastUser();
                        out.print("(message of " + text.length() + " characters not sent: " + e.getMessage()
                                + "; at most " + (medqa.config().maxPositionEmbeddings() - config.maxNewTokens())
                                + " prompt tokens fit with --max-new-tokens " + config.maxNewTokens()
                                + ". The conversation is unchanged.)");
                    }
                    out.println();
                }
                out.print("> ");
                out.flush();
            }
            out.println();
            return 0;
        }
    }
}

package example;

import org.springframework.ai.chat.client.ChatClient;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.stereotype.Service;

/** A user's application: its service asks through Spring AI's ChatClient, MedQA comes from properties. */
@SpringBootApplication
public class TriageApplication {
    public static void main(String[] args) {
        SpringApplication.run(TriageApplication.class, args);
    }

    public record Triage(String urgency, String reason) {
    }

    @Service
    public static class TriageService {
        private final ChatClient chat;

        public TriageService(ChatClient.Builder chat) {
            this.chat = chat.defaultSystem("You triage patient messages.").build();
        }

        public String answer(String message) {
            return chat.prompt().user(message).call().content();
        }

        public Triage triage(String message) {
            return chat.prompt().user(message).call().entity(Triage.class);
        }
    }
}

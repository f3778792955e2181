/**
 * Spring Boot auto-configuration: a {@code MedQA} bean and its chat model from {@code medqa.*}
 * properties, health and metrics when Actuator and Micrometer are present, and failure analysis
 * of a bad configuration.
 */
package ai.medqa.spring.boot;

/**
 * MedQA on Apache Spark: question answering and PubMedQA scoring as ML transformers, and the
 * distributed evaluation job, with one model per executor JVM.
 */
package ai.medqa.spark;

/*
** `streamrun --kafka-mock [BROKERS] [--topic NAME:PARTITIONS]...`: librdkafka's built-in mock
** Kafka cluster (rdkafka_mock.h) on loopback, so Kafka jobs and tests run with no broker.
*/
#ifndef SR_KAFKA_MOCK_H
#define SR_KAFKA_MOCK_H

/* The --help text of --kafka-mock (static). */
extern const char sr_kafka_mock_usage[];

/* Runs the mock cluster. argv[0..argc-1] are the arguments after --kafka-mock (argc may be 0).
** Prints the cluster's bootstrap servers as the first line of stdout (flushed), then serves
** until SIGINT or SIGTERM. Returns the process exit status: 0 after a signal, 2 for bad
** arguments (the usage goes to stderr), 1 when the cluster cannot start. Blocks SIGINT and
** SIGTERM in the calling thread (and so in librdkafka's threads, which inherit the mask). */
int sr_kafka_mock_main(int argc, char **argv);

#endif

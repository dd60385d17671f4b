"""Airflow DAG: refresh the SparkMoE token-shard dataset nightly, then (optionally) train on the new version.

Requires apache-airflow-providers-apache-spark and a Spark connection `spark_sparkmoe` (master yarn or k8s).
Variables: sparkmoe_jar (the cluster jar on HDFS or local to the workers), sparkmoe_refresh_config (a
refresh .properties on HDFS with input=, target= and tokenizer=), sparkmoe_train_after_refresh ("true" to train),
sparkmoe_dataset (the refresh target), sparkmoe_train_config (a train .properties: model, workers, rounds, ...).
The train step is given the dataset root as its manifest: a refreshed dataset's root stands for its current version
(versions/vNNNNN.json, the highest), read when the step starts, so it trains on the version the refresh just
published. The refresh prints "nothing changes" and publishes no version when no input is new; the train step
then trains on the unchanged current version only if you ask it to (ShortCircuitOperator below skips it).
"""
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models import Variable
from airflow.operators.python import ShortCircuitOperator
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

JVM_FLAGS = ("--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED "
             "--sun-misc-unsafe-memory-access=allow --add-modules=jdk.incubator.vector "
             "--enable-native-access=ALL-UNNAMED")  # the Arrow/Vector/FFM subset of conf/jvm.properties

with DAG(
    dag_id="sparkmoe_refresh",
    schedule="15 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # the refresh's own lock also keeps two runs from publishing
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
) as dag:
    refresh = SparkSubmitOperator(
        task_id="refresh",
        conn_id="spark_sparkmoe",
        application="{{ var.value.sparkmoe_jar }}",
        java_class="org.sparkmoe.jobs.cli.SparkMoeMain",
        application_args=["refresh", "--config", "{{ var.value.sparkmoe_refresh_config }}"],
        conf={"spark.driver.extraJavaOptions": JVM_FLAGS, "spark.executor.extraJavaOptions": JVM_FLAGS},
    )

    train_wanted = ShortCircuitOperator(
        task_id="train_wanted",
        python_callable=lambda: Variable.get("sparkmoe_train_after_refresh", "false") == "true",
    )

    train = SparkSubmitOperator(
        task_id="train",
        conn_id="spark_sparkmoe",
        application="{{ var.value.sparkmoe_jar }}",
        java_class="org.sparkmoe.jobs.cli.SparkMoeMain",
        application_args=["train", "--config", "{{ var.value.sparkmoe_train_config }}",
                          "--manifest", "{{ var.value.sparkmoe_dataset }}", "--run-id", "refresh-{{ ds_nodash }}"],
        conf={"spark.driver.extraJavaOptions": JVM_FLAGS, "spark.executor.extraJavaOptions": JVM_FLAGS,
              "spark.executor.resource.gpu.amount": "1", "spark.task.resource.gpu.amount": "1"},
    )

    refresh >> train_wanted >> train

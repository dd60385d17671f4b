"""Airflow DAG: refresh the SparkMoE token-shard dataset nightly, then (optionally) train on the new version.

Requires apache-airflow-providers-apache-spark and a Spark connection `spark_sparkmoe` (master yarn or k8s).
Variables: sparkmoe_home (a SparkMoE checkout on the Airflow workers: its conf/jvm.properties holds the JVM flags),
sparkmoe_jar (the cluster jar on HDFS or local to the workers), sparkmoe_refresh_config (a
refresh .properties on HDFS with input=, target= and tokenizer=), sparkmoe_train_after_refresh ("true" to train),
sparkmoe_dataset (the refresh target), sparkmoe_train_config (a train .properties: model, workers, rounds, ...).
The train step is given the dataset root as its manifest: a refreshed dataset's root stands for its current version
(versions/vNNNNN.json, the highest), read when the step starts, so it trains on the version the refresh just
published. The refresh prints "nothing changes" and publishes no version when no input is new; the train step
then trains on the unchanged current version only if you ask it to (ShortCircuitOperator below skips it).
"""
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models import Variable
from airflow.operators.python import ShortCircuitOperator
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator


def sparkmoe_jvm_flags():
    """The JVM flags of conf/jvm.properties, the one place they live, read the way bin/java-env.sh reads them (the
    value of the line `sparkmoe.jvm.flags=`); rendered when a task runs, on the worker that calls spark-submit."""
    path = os.path.join(Variable.get("sparkmoe_home"), "conf", "jvm.properties")
    prefix = "sparkmoe.jvm.flags="
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
    raise ValueError(f"{path} has no {prefix} line: point the sparkmoe_home Variable at a SparkMoE checkout")


JVM_CONF = {"spark.driver.extraJavaOptions": "{{ sparkmoe_jvm_flags() }}",
            "spark.executor.extraJavaOptions": "{{ sparkmoe_jvm_flags() }}"}

with DAG(
    dag_id="sparkmoe_refresh",
    schedule="15 2 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # the refresh's own lock also keeps two runs from publishing
    default_args={"retries": 1, "retry_delay": timedelta(minutes=10)},
    user_defined_macros={"sparkmoe_jvm_flags": sparkmoe_jvm_flags},
) as dag:
    refresh = SparkSubmitOperator(
        task_id="refresh",
        conn_id="spark_sparkmoe",
        application="{{ var.value.sparkmoe_jar }}",
        java_class="org.sparkmoe.jobs.cli.SparkMoeMain",
        application_args=["refresh", "--config", "{{ var.value.sparkmoe_refresh_config }}"],
        conf=JVM_CONF,
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
        conf={**JVM_CONF, "spark.executor.resource.gpu.amount": "1", "spark.task.resource.gpu.amount": "1"},
    )

    refresh >> train_wanted >> train

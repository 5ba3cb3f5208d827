"""Serverless real-time endpoints of the offline SageMaker, and InvokeEndpoint of its runtime.

An endpoint serves the model of its endpoint configuration; UpdateEndpoint moves it to another
configuration. Answers follow the built-in XGBoost container's real-time CSV encoding: one line
per record, a multi:softprob row as comma-separated probabilities.
"""

from __future__ import annotations

import threading

from .sm_base import ApiError, SageMakerBase, now

SERVERLESS_MEMORY = (1024, 2048, 3072, 4096, 5120, 6144)
READY_AFTER = 0.2  # seconds from Creating/Updating to InService (minutes on AWS)


class EndpointOps(SageMakerBase):
    def op_CreateEndpointConfig(self, request: dict) -> dict:  # noqa: N802
        name = request["EndpointConfigName"]
        arn = self.arn("endpoint-config", name)
        for variant in request["ProductionVariants"]:
            if variant["ModelName"] not in self.models:
                raise ApiError("ValidationException", f'Could not find model "{self.arn("model", variant["ModelName"])}".')
            serverless = variant.get("ServerlessConfig")
            if not serverless:
                raise ApiError("ValidationException", "the offline SageMaker serves serverless variants only (ServerlessConfig)")
            if serverless.get("MemorySizeInMB") not in SERVERLESS_MEMORY:
                raise ApiError("ValidationException", f"MemorySizeInMB must be one of {SERVERLESS_MEMORY}")
            if not 1 <= int(serverless.get("MaxConcurrency", 0)) <= 200:
                raise ApiError("ValidationException", "MaxConcurrency must be between 1 and 200")
        with self._lock:
            if name in self.endpoint_configs:
                raise ApiError("ValidationException", f'Cannot create already existing endpoint configuration "{arn}".')
            self.endpoint_configs[name] = {**{k: v for k, v in request.items() if k != "Tags"}, "EndpointConfigArn": arn,
                                           "CreationTime": now()}
            self.tags[arn] = request.get("Tags", [])
        return {"EndpointConfigArn": arn}

    def op_DescribeEndpointConfig(self, request: dict) -> dict:  # noqa: N802
        config = self.endpoint_configs.get(request["EndpointConfigName"])
        if config is None:
            raise ApiError("ValidationException", f'Could not find endpoint configuration "{request["EndpointConfigName"]}".')
        return dict(config)

    def _in_service_later(self, name: str) -> None:
        def ready():
            with self._lock:
                self.endpoints[name]["EndpointStatus"] = "InService"
                self.endpoints[name]["LastModifiedTime"] = now()

        timer = threading.Timer(READY_AFTER, ready)
        timer.daemon = True
        timer.start()

    def _variants(self, config_name: str) -> list[dict]:
        config = self.endpoint_configs[config_name]
        return [{"VariantName": v["VariantName"], "CurrentServerlessConfig": v["ServerlessConfig"],
                 "DesiredServerlessConfig": v["ServerlessConfig"]} for v in config["ProductionVariants"]]

    def op_CreateEndpoint(self, request: dict) -> dict:  # noqa: N802
        name, config = request["EndpointName"], request["EndpointConfigName"]
        arn = self.arn("endpoint", name)
        with self._lock:
            if name in self.endpoints:
                raise ApiError("ValidationException", f'Cannot create already existing endpoint "{arn}".')
            if config not in self.endpoint_configs:
                raise ApiError("ValidationException", f'Could not find endpoint configuration "{config}".')
            self.endpoints[name] = {"EndpointName": name, "EndpointArn": arn, "EndpointConfigName": config, "EndpointStatus": "Creating",
                                    "CreationTime": now(), "LastModifiedTime": now(), "ProductionVariants": self._variants(config)}
            self.tags[arn] = request.get("Tags", [])
        self._in_service_later(name)
        return {"EndpointArn": arn}

    def op_UpdateEndpoint(self, request: dict) -> dict:  # noqa: N802
        name, config = request["EndpointName"], request["EndpointConfigName"]
        with self._lock:
            endpoint = self.endpoints.get(name)
            if endpoint is None:
                raise ApiError("ValidationException", f'Could not find endpoint "{self.arn("endpoint", name)}".')
            if config not in self.endpoint_configs:
                raise ApiError("ValidationException", f'Could not find endpoint configuration "{config}".')
            if endpoint["EndpointStatus"] not in ("InService", "Failed"):
                raise ApiError("ValidationException", f'Cannot update in-progress endpoint "{endpoint["EndpointArn"]}".')
            endpoint.update(EndpointConfigName=config, EndpointStatus="Updating", LastModifiedTime=now(),
                            ProductionVariants=self._variants(config))
        self._in_service_later(name)
        return {"EndpointArn": endpoint["EndpointArn"]}

    def op_DescribeEndpoint(self, request: dict) -> dict:  # noqa: N802
        endpoint = self.endpoints.get(request["EndpointName"])
        if endpoint is None:
            raise ApiError("ValidationException", f'Could not find endpoint "{self.arn("endpoint", request["EndpointName"])}".')
        return dict(endpoint)

    # -- sagemaker-runtime --------------------------------------------------------------------
    def invoke_endpoint(self, name: str, body: bytes, content_type: str) -> tuple[bytes, str, str]:
        """The answer body, its content type and the variant that answered."""
        endpoint = self.endpoints.get(name)
        if endpoint is None or endpoint["EndpointStatus"] not in ("InService", "Updating"):
            raise ApiError("ValidationError", f"Endpoint {name} of account 123456789012 not found.")
        if content_type.split(";")[0].strip() != "text/csv":
            raise ApiError("ModelError", f"the built-in XGBoost container reads text/csv here, not {content_type}", status=424)
        (variant,) = self.endpoint_configs[endpoint["EndpointConfigName"]]["ProductionVariants"][:1]
        container = self.models[variant["ModelName"]]["PrimaryContainer"]
        try:
            answer = self.predictor(container)(body)
        except Exception as err:  # noqa: BLE001 - the container's error comes back as a ModelError
            raise ApiError("ModelError", f"Received client error (400) from primary with message \"{err}\"", status=424) from None
        return answer, "text/csv; charset=utf-8", variant["VariantName"]

"""Model package groups and versions, as SageMaker's registry answers them.

moto's server implements these calls but differs from AWS where the pipeline depends on it
(checked in moto 5.2): a new version has no ModelApprovalStatus (AWS: PendingManualApproval);
UpdateModelPackage resets every field it is not given (the approval status, the customer
metadata, the approval description); ListModelPackages without a group lists no versioned
package; DescribeModelPackage of a version has no ModelPackageName; no ClientToken; and no
"SageMaker Model Package State Change" event. So the offline SageMaker keeps the registry
itself, with AWS's semantics, and emits the events.
"""

from __future__ import annotations

from .sm_base import ApiError, SageMakerBase, now

STATUSES = ("Approved", "Rejected", "PendingManualApproval")
PAGE = 100


class RegistryOps(SageMakerBase):
    def package_arn(self, name: str) -> str:
        """A version's ARN from its ARN or from ``group/version``."""
        if name.startswith("arn:"):
            return name
        group, _, version = name.rpartition("/")
        return self.arn("model-package", f"{group}/{version}")

    def _group(self, name: str) -> dict:
        group = self.model_package_groups.get(name)
        if group is None:
            raise ApiError("ValidationException", f"Model Package Group {name} does not exist.")
        return group

    def op_CreateModelPackageGroup(self, request: dict) -> dict:  # noqa: N802
        name = request["ModelPackageGroupName"]
        arn = self.arn("model-package-group", name)
        with self._lock:
            if name in self.model_package_groups:
                raise ApiError("ValidationException", f"Model Package Group already exists: {arn}")
            self.model_package_groups[name] = {
                "ModelPackageGroupName": name, "ModelPackageGroupArn": arn, "CreationTime": now(), "ModelPackageGroupStatus": "Completed",
                "ModelPackageGroupDescription": request.get("ModelPackageGroupDescription", ""),
            }
            self.tags[arn] = request.get("Tags", [])
        return {"ModelPackageGroupArn": arn}

    def op_DescribeModelPackageGroup(self, request: dict) -> dict:  # noqa: N802
        return dict(self._group(request["ModelPackageGroupName"]))

    def op_CreateModelPackage(self, request: dict) -> dict:  # noqa: N802
        group_name = request.get("ModelPackageGroupName")
        if not group_name:
            raise ApiError("ValidationException", "the offline registry keeps versioned packages only: give ModelPackageGroupName")
        status = request.get("ModelApprovalStatus", "PendingManualApproval")
        if status not in STATUSES:
            raise ApiError("ValidationException", f"ModelApprovalStatus must be one of {', '.join(STATUSES)}")
        token = request.get("ClientToken")
        with self._lock:
            self._group(group_name)
            if token and (group_name, token) in map(tuple, self.client_tokens.get("packages", [])):
                # the same request again (a retried call): the same version, not a new one
                return {"ModelPackageArn": next(a for g, t, a in self.client_tokens["packages"] if (g, t) == (group_name, token))}
            version = 1 + sum(1 for p in self.model_packages.values() if p["ModelPackageGroupName"] == group_name)
            arn = self.arn("model-package", f"{group_name}/{version}")
            created = now()
            package = {
                "ModelPackageName": group_name, "ModelPackageGroupName": group_name, "ModelPackageVersion": version,
                "ModelPackageArn": arn, "ModelPackageDescription": request.get("ModelPackageDescription", ""),
                "CreationTime": created, "LastModifiedTime": created, "InferenceSpecification": request["InferenceSpecification"],
                "ModelPackageStatus": "Completed",
                "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
                "CertifyForMarketplace": False, "ModelApprovalStatus": status,
                **{k: request[k] for k in ("ModelMetrics", "CustomerMetadataProperties", "MetadataProperties", "ApprovalDescription")
                   if k in request},
            }
            self.model_packages[arn] = package
            self.tags[arn] = request.get("Tags", [])
            if token:
                self.client_tokens.setdefault("packages", []).append([group_name, token, arn])
        self._package_event(package, [])
        return {"ModelPackageArn": arn}

    def op_DescribeModelPackage(self, request: dict) -> dict:  # noqa: N802
        package = self.model_packages.get(self.package_arn(request["ModelPackageName"]))
        if package is None:
            raise ApiError("ValidationException", f"ModelPackage {request['ModelPackageName']} does not exist.")
        return dict(package)

    def op_ListModelPackages(self, request: dict) -> dict:  # noqa: N802
        group = request.get("ModelPackageGroupName")
        if group:
            group = group.rsplit("/", 1)[-1] if group.startswith("arn:") else group  # a name or the group's ARN
            self._group(group)
        found = [p for p in self.model_packages.values()
                 if (not group or p["ModelPackageGroupName"] == group)
                 and p["ModelApprovalStatus"] == request.get("ModelApprovalStatus", p["ModelApprovalStatus"])]
        by_name = request.get("SortBy") == "Name"
        found.sort(key=lambda p: (p["ModelPackageGroupName"], p["ModelPackageVersion"]) if by_name else (p["CreationTime"], p["ModelPackageVersion"]),
                   reverse=request.get("SortOrder", "Ascending") == "Descending")
        start = int(request.get("NextToken") or 0)
        size = int(request.get("MaxResults") or PAGE)
        page = found[start:start + size]
        summaries = [{k: p[k] for k in ("ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn", "ModelPackageDescription",
                                        "CreationTime", "ModelPackageStatus", "ModelApprovalStatus")} for p in page]
        answer = {"ModelPackageSummaryList": summaries}
        if start + size < len(found):
            answer["NextToken"] = str(start + size)
        return answer

    def op_UpdateModelPackage(self, request: dict) -> dict:  # noqa: N802
        arn = self.package_arn(request["ModelPackageArn"])
        with self._lock:
            package = self.model_packages.get(arn)
            if package is None:
                raise ApiError("ValidationException", f"ModelPackage {arn} does not exist.")
            updated = []
            if "ModelApprovalStatus" in request:
                if request["ModelApprovalStatus"] not in STATUSES:
                    raise ApiError("ValidationException", f"ModelApprovalStatus must be one of {', '.join(STATUSES)}")
                package["ModelApprovalStatus"] = request["ModelApprovalStatus"]
                updated.append("ModelApprovalStatus")
            if "ApprovalDescription" in request:
                package["ApprovalDescription"] = request["ApprovalDescription"]
                updated.append("ApprovalDescription")
            if "CustomerMetadataProperties" in request or "CustomerMetadataPropertiesToRemove" in request:
                properties = {**package.get("CustomerMetadataProperties", {}), **request.get("CustomerMetadataProperties", {})}
                for key in request.get("CustomerMetadataPropertiesToRemove", []):
                    properties.pop(key, None)
                package["CustomerMetadataProperties"] = properties
                updated.append("CustomerMetadataProperties")
            package["LastModifiedTime"] = now()
        self._package_event(package, updated)
        return {"ModelPackageArn": arn}

    def _package_event(self, package: dict, updated: list[str]) -> None:
        detail = {k: v for k, v in package.items() if k != "ModelPackageName"}
        if updated:
            detail["UpdatedModelPackageFields"] = updated
        self.emit("SageMaker Model Package State Change", detail, package["ModelPackageArn"])

from services.feedback.config import service_spec
from shared.service import main

main(service_spec())

from services.feedback.config import SPEC
from shared.service import main

main(SPEC)

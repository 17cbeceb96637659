from services.rollout.config import SPEC
from shared.service import main

main(SPEC)
